/** Naming conventions of docs/wire/behaviour.md §4 (scaler/convert.rs). */
import type { Component } from './types.js';

/** Lower-case, then every character that is not an ASCII letter or digit becomes `_`. */
export function sanitizeIdPart(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]/gu, '_');
}

/** `properties.id` if given, else `{manifest}-{component}` (both sanitised). */
export function componentId(manifestName: string, component: Pick<Component, 'name' | 'properties'>): string {
  return component.properties.id ?? `${sanitizeIdPart(manifestName)}-${sanitizeIdPart(component.name)}`;
}

/** Name of a wadm-managed config (a ConfigProperty with `properties`). */
export function managedConfigName(manifestName: string, configName: string): string {
  return `${sanitizeIdPart(manifestName)}-${sanitizeIdPart(configName)}`;
}

/** Name of the config entry wadm writes for a secret reference. */
export function secretConfigName(manifestName: string, secretName: string): string {
  return `SECRET_${sanitizeIdPart(manifestName)}-${sanitizeIdPart(secretName)}`;
}
