// Shoelace's custom elements in JSX: their properties are set by Preact, their events are `onsl-*`.
import 'preact';

declare module 'preact' {
  namespace JSX {
    interface IntrinsicElements {
      // biome-ignore lint/suspicious/noExplicitAny: Shoelace ships no Preact typings
      [tag: `sl-${string}`]: any;
    }
  }
}
