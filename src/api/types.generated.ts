// Generated from crds/ by `npm run gen` (scripts/gen-types.ts). Do not edit by hand.

/**
 * ApiKey declares one API key. The keywarden controller mints the key, stores only its SHA-256 hash in a Secret of type keywarden.dev/key-hash, and hands the plaintext over exactly once (`kubectl keywarden reveal NAME`). Validator sidecars check requests against the hash.
 */
export interface ApiKey {
  /**
   * APIVersion defines the versioned schema of this representation of an object.
   */
  apiVersion?: string;
  /**
   * Kind is a string value representing the REST resource this object represents.
   */
  kind?: string;
  /**
   * ApiKeySpec is the desired key. Environment and type are fixed at creation.
   */
  spec: {
    /**
     * Environment the key works in: production, staging or development. It is part of the key string (kwsk_prod_..., kwsk_stg_..., kwsk_dev_...) and a validator serves exactly one environment. Immutable.
     */
    environment: 'production' | 'staging' | 'development';
    /**
     * public keys may only hold permissions the ApiKeyPolicy marks publicSafe (read-only, non-sensitive); private keys are admin keys and may hold any permission. Defaults to private. Immutable.
     */
    type?: 'public' | 'private';
    /**
     * Free text shown by `kubectl keywarden list` and searchable. At most 256 characters.
     */
    description?: string;
    /**
     * Permissions the key grants, each `resource:action` (lower case), with `*` as the action wildcard (e.g. `devices:*`). The validator maps each route to the permission it needs and answers 403 when the key lacks it.
     *
     * @maxItems 64
     */
    permissions?: string[];
    /**
     * When the key stops working (RFC 3339). Defaulted by the webhook to the policy's default lifetime (one year). Never more than one calendar year ahead of the moment it is set: on create, on every change, and when a disabled or expired key is enabled again.
     */
    expiresAt?: string;
    /**
     * true cuts the key off at once (401) and keeps the object and its history; false brings it back (an expired key then needs a new expiresAt within one year).
     */
    disabled?: boolean;
    /**
     * Client addresses the key may be used from: IPv4/IPv6 addresses and CIDRs such as 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32. Empty means any source. Requests from elsewhere get 403.
     *
     * @maxItems 64
     */
    allowedSources?: string[];
    /**
     * Token bucket per key: `requests` per `period` sustained, with at most `burst` requests at once (default: requests). Over it the validator answers 429 with Retry-After and RateLimit-* headers.
     */
    rateLimit?: {
      /**
       * Requests allowed per period, 1 to 1000000.
       */
      requests: number;
      /**
       * Length of the period as a duration (e.g. 1s, 1m, 1h), 1s to 24h.
       */
      period: string;
      /**
       * Most requests allowed at one instant (the bucket size), 1 to 1000000. Defaults to requests.
       */
      burst?: number;
    };
    /**
     * Optional customer scope, passed to the protected API in the identity headers and JWT.
     *
     * @maxItems 32
     */
    customers?: string[];
    /**
     * Regeneration. Raise `generation` to mint a new secret with the same key id and settings.
     */
    rotation?: {
      /**
       * Bump this integer to regenerate the secret. It may never go down.
       */
      generation?: number;
      /**
       * How long the previous secret keeps working after a regeneration (e.g. 1h). Default: none, the old secret stops at once. At most 720h here; the ApiKeyPolicy may set a lower limit.
       */
      gracePeriod?: string;
    };
    /**
     * How the plaintext is handed over. By default a one-time copy in the operator's namespace is printed and destroyed by `kubectl keywarden reveal`, or destroyed unread after its TTL.
     */
    delivery?: {
      /**
       * Also keep the plaintext in this Secret for an in-cluster consumer (updated on regeneration). It must be in a namespace validators do not read, that you may write Secrets in yourself and that the ApiKeyPolicy allows (consumerSecretNamespaces). keywarden never overwrites or deletes a Secret it did not create for this ApiKey.
       */
      secretRef?: {
        /**
         * Name of the Secret to write.
         */
        name: string;
        /**
         * Namespace of the Secret. Defaults to the ApiKey's namespace.
         */
        namespace?: string;
        /**
         * Data key inside the Secret. Defaults to apiKey.
         */
        key?: string;
      };
      /**
       * A public JWK. The key is sealed as a compact JWE (ECDH-ES+A256KW or RSA-OAEP-256, A256GCM) that only the holder of the private key can open, and placed in status.delivery.jwe; then no plaintext copy is stored anywhere.
       */
      recipient?: {
        /**
         * Key type.
         */
        kty: 'EC' | 'RSA' | 'OKP';
        /**
         * Curve for EC and OKP keys (P-256, P-384, P-521, X25519).
         */
        crv?: 'P-256' | 'P-384' | 'P-521' | 'X25519';
        /**
         * Public x coordinate (EC, OKP), base64url.
         */
        x?: string;
        /**
         * Public y coordinate (EC), base64url.
         */
        y?: string;
        /**
         * RSA modulus, base64url.
         */
        n?: string;
        /**
         * RSA public exponent, base64url.
         */
        e?: string;
        /**
         * Key id, copied into the JWE header.
         */
        kid?: string;
      };
    };
  };
  /**
   * What the controller last did with this key.
   */
  status?: {
    /**
     * Pending (being minted), Active (works), Inactive (disabled), Expired (past expiresAt) or Failed (see the Ready condition).
     */
    state?: 'Pending' | 'Active' | 'Inactive' | 'Expired' | 'Failed';
    /**
     * The metadata.generation this status describes.
     */
    observedGeneration?: number;
    /**
     * Public identifier of the key, stable across regenerations.
     */
    keyId?: string;
    /**
     * Masked key, e.g. kwsk_prod_7Hq2mX9pLw3a_…x8Qz. Never the secret.
     */
    keyHint?: string;
    /**
     * Expiry the validators enforce.
     */
    expiresAt?: string;
    /**
     * When the current secret was minted.
     */
    issuedAt?: string;
    /**
     * Last time a validator accepted this key (reported at most once a minute).
     */
    lastUsedAt?: string;
    /**
     * The spec.rotation.generation the current secret was minted for.
     */
    rotationGeneration?: number;
    /**
     * During a grace period, when the previous secret stops working.
     */
    previousSecretValidUntil?: string;
    /**
     * Where the one-time plaintext stands.
     */
    delivery?: {
      /**
       * Pending (waiting to be revealed), Revealed, Expired (destroyed unread after its TTL) or Sealed (only the JWE in this status exists).
       */
      state?: 'Pending' | 'Revealed' | 'Expired' | 'Sealed';
      /**
       * When an unrevealed copy is destroyed.
       */
      expiresAt?: string;
      /**
       * The key sealed for spec.delivery.recipient, as a compact JWE.
       */
      jwe?: string;
    };
    /**
     * Ready and ExpiringSoon, with lastTransitionTime moving only on change.
     *
     * Items: One aspect of the key's state.
     */
    conditions?: {
      /**
       * Condition type (Ready, ExpiringSoon).
       */
      type: string;
      /**
       * True, False or Unknown.
       */
      status: 'True' | 'False' | 'Unknown';
      /**
       * The metadata.generation the condition was set for.
       */
      observedGeneration?: number;
      /**
       * When the status last changed.
       */
      lastTransitionTime: string;
      /**
       * CamelCase reason for the last transition.
       */
      reason: string;
      /**
       * Human-readable details.
       */
      message: string;
    }[];
  };
}

/**
 * ApiKeyPolicy is the cluster's key policy: the permission catalogue, lifetimes and extra rules. There is one, named `default`; without it the built-in defaults apply (one year maximum and default lifetime, nothing public-safe).
 */
export interface ApiKeyPolicy {
  /**
   * APIVersion defines the versioned schema of this representation of an object.
   */
  apiVersion?: string;
  /**
   * Kind is a string value representing the REST resource this object represents.
   */
  kind?: string;
  /**
   * The policy.
   */
  spec: {
    /**
     * The permission catalogue: every permission keys may hold, and which are safe for public keys.
     *
     * @maxItems 1024
     *
     * Items: One permission.
     */
    permissions?: {
      /**
       * The permission, `resource:action`; `resource:*` names the wildcard.
       */
      name: string;
      /**
       * true if a public key may hold it (read-only, non-sensitive, e.g. sessions:create). Default false.
       */
      publicSafe?: boolean;
      /**
       * What the permission allows.
       */
      description?: string;
    }[];
    /**
     * true refuses ApiKeys that name a permission missing from the catalogue.
     */
    strictCatalogue?: boolean;
    /**
     * Longest lifetime an expiresAt may give a key, in days (1 to 366). The one-calendar-year cap always applies on top. Default 366 (that is, one calendar year).
     */
    maxLifetimeDays?: number;
    /**
     * Lifetime of a key created without expiresAt, in days (1 to 366). Default one year.
     */
    defaultLifetimeDays?: number;
    /**
     * How many days before expiry a key gets the ExpiringSoon condition, an Event and an admission warning. Default 14.
     */
    expiringSoonDays?: number;
    /**
     * Longest spec.rotation.gracePeriod allowed (e.g. 24h). Default 24h.
     */
    maxGracePeriod?: string;
    /**
     * Keys that must list allowedSources, by environment and type (e.g. production private keys).
     *
     * @maxItems 6
     *
     * Items: An environment and type combination that needs allowedSources.
     */
    requireAllowedSources?:
      | []
      | [
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          }
        ]
      | [
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          }
        ]
      | [
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          }
        ]
      | [
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          }
        ]
      | [
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          }
        ]
      | [
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          },
          {
            /**
             * The environment.
             */
            environment: 'production' | 'staging' | 'development';
            /**
             * The key type.
             */
            type: 'public' | 'private';
          }
        ];
    /**
     * Namespaces where spec.delivery.secretRef may write a plaintext copy for an in-cluster consumer; an entry ending in `*` matches by prefix (e.g. `team-a-*`). Not set: any namespace the requester may write Secrets in (checked with a SubjectAccessReview at admission), never kube-system, kube-public, kube-node-lease or keywarden's own. An empty list turns secretRef off.
     *
     * @maxItems 256
     */
    consumerSecretNamespaces?: string[];
  };
}
