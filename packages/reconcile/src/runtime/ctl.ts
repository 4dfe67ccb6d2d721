/** Commands → control-interface requests (docs/wire/control-interface.md §6), as pure data. */
import type { Command } from '../types.js';
import { APPSPEC_KEY, ctlSubject, MANAGED_BY_KEY, MANAGED_BY_VALUE, updateComponentBody } from '@wadm-ts/protocol';
import { linkOf } from '../plan/commands.js';

export interface CtlRequest {
  subject: string;
  body: string;
}

export function toCtlRequest(c: Command, lattice: string, account?: string): CtlRequest {
  const subj = (s: string): string => ctlSubject(lattice, s, account);
  switch (c.kind) {
    case 'ScaleComponent':
      return {
        subject: subj(`component.scale.${c.host_id}`),
        body: JSON.stringify({
          component_ref: c.reference,
          component_id: c.component_id,
          annotations: { ...c.annotations, [MANAGED_BY_KEY]: MANAGED_BY_VALUE, [APPSPEC_KEY]: c.model_name },
          count: c.count,
          host_id: c.host_id,
          config: c.config,
          allow_update: false,
        }),
      };
    case 'UpdateComponent':
      return {
        subject: subj(`component.update.${c.host_id}`),
        body: updateComponentBody({
          component_id: c.component_id,
          annotations: { ...c.annotations, [MANAGED_BY_KEY]: MANAGED_BY_VALUE, [APPSPEC_KEY]: c.model_name },
          host_id: c.host_id,
          new_component_ref: c.new_component_ref,
        }),
      };
    case 'StartProvider':
      return {
        subject: subj(`provider.start.${c.host_id}`),
        body: JSON.stringify({
          provider_id: c.provider_id,
          provider_ref: c.reference,
          host_id: c.host_id,
          config: c.config,
          annotations: { ...c.annotations, [MANAGED_BY_KEY]: MANAGED_BY_VALUE, [APPSPEC_KEY]: c.model_name },
        }),
      };
    case 'StopProvider':
      return { subject: subj(`provider.stop.${c.host_id}`), body: JSON.stringify({ host_id: c.host_id, provider_id: c.provider_id }) };
    case 'PutLink':
      return { subject: subj('link.put'), body: JSON.stringify(linkOf(c)) };
    case 'DeleteLink':
      return {
        subject: subj('link.del'),
        body: JSON.stringify({ source_id: c.source_id, name: c.link_name, wit_namespace: c.wit_namespace, wit_package: c.wit_package }),
      };
    case 'PutConfig':
      return { subject: subj(`config.put.${c.config_name}`), body: JSON.stringify(c.config) };
    case 'DeleteConfig':
      return { subject: subj(`config.del.${c.config_name}`), body: '' };
  }
}
