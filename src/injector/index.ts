// Sidecar injection: pods annotated keywarden.dev/inject: "true" get the validator container.
// Pure functions only; the webhook server mounts handlePodReview at INJECT_PATH.

export type { DeclaredPort, InjectionSettings, InjectRequest } from './annotations.ts';
export type { ComposeResult } from './compose.ts';
export { composeValidatorConfig } from './compose.ts';
export type { InjectorConfig, InjectorConfigResult, ResourceRequirements } from './config.ts';
export { INJECTOR_DEFAULTS } from './config.ts';
export type { InjectionOutcome } from './inject.ts';
export {
  computeInjection,
  INIT_NAME,
  JWT_KEY_FILE,
  SETTINGS_ENV,
  SIDECAR_NAME,
  VOLUMES,
  validatorSettings,
} from './inject.ts';
export { readAnnotations } from './read-annotations.ts';
export { loadInjectorConfigFile, parseInjectorConfig } from './read-config.ts';
export { handlePodReview, INJECT_PATH, INJECT_WEBHOOK_NAME } from './review.ts';
