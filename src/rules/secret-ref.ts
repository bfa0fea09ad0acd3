// Where spec.delivery.secretRef may write a plaintext copy. The webhook applies this before it asks
// the API server whether the requester could write that Secret themselves (a SubjectAccessReview).

/** Never a consumer Secret here, whatever the policy says: the cluster's and keywarden's own Secrets live there. */
const RESERVED_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease'] as const;

export interface ConsumerNamespaceRules {
  /** The ApiKey's namespace: validators read it, so a plaintext copy there is refused. */
  apiKeyNamespace: string;
  /** keywarden's own namespace (CA key, webhook TLS, one-time deliveries). */
  operatorNamespace: string;
  /**
   * ApiKeyPolicy spec.consumerSecretNamespaces: undefined means any other namespace (the requester's
   * own RBAC decides); a list means only those (an entry ending in `*` matches by prefix); [] means none.
   */
  allowList: readonly string[] | undefined;
}

/** Why secretRef may not point into `namespace`, or undefined when it may. */
export function consumerNamespaceProblem(
  namespace: string,
  rules: ConsumerNamespaceRules,
): string | undefined {
  const { apiKeyNamespace, operatorNamespace, allowList } = rules;
  if (namespace === apiKeyNamespace) {
    return `spec.delivery.secretRef must name a namespace other than the ApiKey's own (${apiKeyNamespace}): validators read the hash Secrets in ${apiKeyNamespace} and RBAC cannot filter Secrets by type, so a plaintext copy there would be readable by validators`;
  }
  if (namespace === operatorNamespace || (RESERVED_NAMESPACES as readonly string[]).includes(namespace)) {
    return `spec.delivery.secretRef may not name namespace ${namespace}: keywarden never writes consumer Secrets into ${namespace === operatorNamespace ? 'its own namespace' : 'a Kubernetes system namespace'}`;
  }
  if (allowList !== undefined && !allowList.some((p) => namespaceMatches(p, namespace))) {
    return allowList.length === 0
      ? 'spec.delivery.secretRef is turned off: the ApiKeyPolicy lists no consumerSecretNamespaces (use kubectl keywarden reveal or spec.delivery.recipient)'
      : `spec.delivery.secretRef may not name namespace ${namespace}: the ApiKeyPolicy allows consumer Secrets only in ${allowList.join(', ')}`;
  }
  return undefined;
}

function namespaceMatches(pattern: string, namespace: string): boolean {
  return pattern.endsWith('*') ? namespace.startsWith(pattern.slice(0, -1)) : pattern === namespace;
}
