import type { ComponentChildren } from 'preact';

// The console's form fields: a Shoelace input, textarea or select whose `name` is also its data-field
// (what the tests, and the links from a refusal to its field, find it by). `onValue` gets the value as
// typed or picked; every other attribute (type, min, help-text, clearable, ...) goes to the element
// as it is.

interface FieldBase {
  label: string;
  name: string;
  value: string;
  onValue: (value: string) => void;
  children?: ComponentChildren;
  [attribute: string]: unknown;
}

interface FieldProps extends FieldBase {
  /** Which Shoelace event reports the value: sl-input (each keystroke), sl-change (on commit) or both. */
  on?: 'input' | 'change' | 'both';
}

interface SelectProps extends FieldBase {
  /** Options that are their own label (sl-option children may be given instead, or as well). */
  options?: readonly string[] | undefined;
}

function handlers(
  on: FieldProps['on'],
  onValue: (value: string) => void,
): Record<string, (e: Event) => void> {
  const handle = (e: Event) => onValue((e.target as HTMLInputElement).value);
  return {
    ...(on !== 'change' ? { 'onsl-input': handle } : {}),
    ...(on === 'change' || on === 'both' ? { 'onsl-change': handle } : {}),
  };
}

export function InputField({ name, onValue, on = 'input', ...attributes }: FieldProps) {
  return <sl-input {...handlers(on, onValue)} {...attributes} name={name} data-field={name} />;
}

export function TextareaField({ name, onValue, on = 'input', ...attributes }: FieldProps) {
  return <sl-textarea {...handlers(on, onValue)} {...attributes} name={name} data-field={name} />;
}

/** A select of `options` (each its own label), or of the sl-option children given. */
export function SelectField({ name, onValue, options, children, ...attributes }: SelectProps) {
  return (
    <sl-select {...attributes} name={name} data-field={name} {...handlers('change', onValue)}>
      {options?.map((o) => (
        <sl-option key={o} value={o}>
          {o}
        </sl-option>
      ))}
      {children}
    </sl-select>
  );
}

export const ENVIRONMENTS = ['production', 'staging', 'development'] as const;
