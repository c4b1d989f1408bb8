import { useState } from 'react';
import type { Resource } from '../../../src/core/resource.ts';
import { YunApiError } from '../../../src/sdk/client.ts';
import { useApp } from '../app-context.ts';
import { useAsync } from '../hooks.ts';
import { Dialog, ErrorBox, Field, type FieldA11y, FormErrors, describeError, fieldMatches, useAction } from '../ui.tsx';
import type { Flavor } from './Instances.tsx';

const STEPS = ['Image', 'Size', 'Network', 'User data', 'Review'] as const;

/** The wizard step that holds each API field, so a refused launch returns to where it can be fixed. */
const STEP_OF: [RegExp, number][] = [[/^(name|image|type)\b/, 0], [/^(flavor|cpus|memoryMb|diskGb)\b/, 1], [/^(networks|securityGroups)\b/, 2], [/^(userData|command)\b/, 3]];

type ImageSource = { build?: string; upload?: string };
/** VM images are built as tiny-vm or imported disks; everything else is a container rootfs (as the API checks). */
export const isVmImage = (source: ImageSource | undefined): boolean => source?.build === 'tiny-vm' || source?.upload === 'disk';

/** Lists a kind, or nothing when its service is not part of this cloud (404). */
export async function optionalList(client: ReturnType<typeof useApp>['client'], plural: string): Promise<Resource[] | undefined> {
  try { return await client.resource(plural).listAll(); } catch (e) {
    if (e instanceof YunApiError && e.status === 404) return undefined;
    throw e;
  }
}

/** The launch wizard: image → flavor → networks and security groups → user-data → review. */
export function CreateInstance({ onClose, onCreated }: { onClose(): void; onCreated(name: string): void }) {
  const { client } = useApp();
  const data = useAsync(async () => {
    const [images, flavors, networks, groups] = await Promise.all([
      client.resource<{ description?: string; source?: ImageSource }, { state?: string; sizeBytes?: number }>('images').listAll(),
      client.request<{ items: Flavor[] }>('GET', '/v1/flavors'),
      optionalList(client, 'networks'),
      optionalList(client, 'security-groups'),
    ]);
    return { images, flavors: flavors.items, networks, groups };
  }, [client]);
  const [step, setStep] = useState(0);
  const [name, setName] = useState('');
  const [image, setImage] = useState('');
  const [flavor, setFlavor] = useState('');
  const [type, setType] = useState<'container' | 'vm'>('container');
  const [nets, setNets] = useState<string[]>([]);
  const [ips, setIps] = useState<Record<string, string>>({});
  const [sgs, setSgs] = useState<string[]>([]);
  const [userData, setUserData] = useState('');
  const [command, setCommand] = useState('');
  const act = useAction();
  const d = data.data;
  const images = (d?.images ?? []).filter((i) => i.status.state === 'available' && isVmImage(i.spec.source) === (type === 'vm'));
  const flavors = [...(d?.flavors ?? [])].sort((a, b) => a.spec.vcpus - b.spec.vcpus || a.spec.ramMb - b.spec.ramMb);
  const [imageTouched, setImageTouched] = useState(false);
  const img = imageTouched ? image : image || images[0]?.name || '';
  const fl = flavor || flavors[0]?.name || '';
  const canNext = step === 0 ? !!name && !!img : step === 1 ? !!fl : true;

  const launch = () => act.run(async () => {
    const spec: Record<string, unknown> = { image: img, flavor: fl };
    if (type === 'vm') spec.type = 'vm';
    if (nets.length) spec.networks = nets.map((n) => (ips[n]?.trim() ? `${n}:${ips[n]!.trim()}` : n));
    if (sgs.length) spec.securityGroups = sgs;
    if (userData.trim()) spec.userData = userData;
    if (command.trim()) spec.command = command.trim().split(/\s+/);
    try {
      await client.request('POST', '/v1/instances', { body: { name, spec } });
    } catch (e) {
      const field = describeError(e).field;
      const at = STEP_OF.find(([re]) => field && re.test(field));
      if (at) setStep(at[1]);
      throw e;
    }
    onCreated(name);
  });
  const netError = (i: number): FieldA11y => (fieldMatches(describeError(act.error).field, `networks.${i}`) ? { 'aria-invalid': true, 'aria-describedby': 'net-error' } : {});
  const toggle = (list: string[], set: (l: string[]) => void, v: string) => set(list.includes(v) ? list.filter((x) => x !== v) : [...list, v]);

  return (
    <Dialog title="Launch instance" open onClose={onClose}>
      <ol className="steps" aria-label="Steps">
        {STEPS.map((s, i) => <li key={s} className={i === step ? 'on' : i < step ? 'done' : ''} aria-current={i === step ? 'step' : undefined}>{s}</li>)}
      </ol>
      <ErrorBox error={data.error} />
      <form onSubmit={(e) => { e.preventDefault(); if (step < STEPS.length - 1) { if (canNext) setStep(step + 1); } else void launch(); }}>
        <FormErrors error={act.error}>
        {step === 0 ? (
          <>
            <Field label="Instance name" name="name" hint="lowercase letters, digits and '-'">{(id, a) => <input id={id} {...a} name="name" value={name} onChange={(e) => setName(e.target.value)} required autoFocus />}</Field>
            <fieldset className="types">
              <legend>Type</legend>
              <label className="check"><input type="radio" name="type" value="container" checked={type === 'container'} onChange={() => { setType('container'); setImageTouched(false); setImage(''); }} /> Container <span className="muted">a process tree in its own namespaces</span></label>
              <label className="check"><input type="radio" name="type" value="vm" checked={type === 'vm'} onChange={() => { setType('vm'); setImageTouched(false); setImage(''); }} /> Virtual machine <span className="muted">boots its own kernel under QEMU</span></label>
            </fieldset>
            <Field label="Image" name="image" hint={type === 'vm' ? 'VM images (tiny-vm builds and imported disks) are listed' : "this project's images are listed; a public image can be typed by name"}>{(id, a) => (
              <>
                <input id={id} {...a} name="image" list={`${id}-list`} value={img} onChange={(e) => { setImageTouched(true); setImage(e.target.value); }} required />
                <datalist id={`${id}-list`}>
                  {images.map((i) => <option key={i.id} value={i.name}>{i.spec.description ?? ''}</option>)}
                </datalist>
              </>
            )}</Field>
            {d && !images.length ? <p className="muted">{type === 'vm' ? 'This project has no VM image yet: build tiny-vm or import a disk on the Images page.' : "This project has no image of its own yet: type a public image's name, or build one on the Images page."}</p> : null}
          </>
        ) : null}
        {step === 1 ? (
          <fieldset className="flavors">
            <legend>Flavor</legend>
            {flavors.map((f) => (
              <label key={f.name} className={`flavor ${fl === f.name ? 'on' : ''}`}>
                <input type="radio" name="flavor" value={f.name} checked={fl === f.name} onChange={() => setFlavor(f.name)} />
                <strong>{f.name}</strong> <span className="muted">{f.spec.vcpus} vCPU · {f.spec.ramMb >= 1024 ? `${f.spec.ramMb / 1024} GiB` : `${f.spec.ramMb} MiB`} · {f.spec.diskGb} GB disk</span>
              </label>
            ))}
          </fieldset>
        ) : null}
        {step === 2 ? (
          d?.networks === undefined ? <p className="muted">This cloud has no network service: the instance uses the host's loopback network.</p> : (
            <>
              <fieldset><legend>Networks</legend>
                {d.networks.length ? d.networks.map((n) => (
                  <div key={n.name} className="net-choice">
                    <label className="check"><input type="checkbox" checked={nets.includes(n.name)} onChange={() => toggle(nets, setNets, n.name)} /> {n.name} <span className="muted">{String((n.spec as { cidr?: string }).cidr ?? '')}</span></label>
                    {nets.includes(n.name)
                      ? <input aria-label={`Static IP on ${n.name}`} {...netError(nets.indexOf(n.name))} value={ips[n.name] ?? ''} onChange={(e) => setIps({ ...ips, [n.name]: e.target.value })} placeholder="automatic" />
                      : null}
                  </div>
                )) : <p className="muted">No networks: the default network is used.</p>}
                {nets.some((_, i) => netError(i)['aria-invalid']) ? <small id="net-error" className="field-error">{describeError(act.error).message}</small> : null}
              </fieldset>
              {d.groups ? (
                <fieldset><legend>Security groups</legend>
                  {d.groups.length ? d.groups.map((g) => (
                    <label key={g.name} className="check"><input type="checkbox" checked={sgs.includes(g.name)} onChange={() => toggle(sgs, setSgs, g.name)} /> {g.name}</label>
                  )) : <p className="muted">No security groups.</p>}
                </fieldset>
              ) : null}
            </>
          )
        ) : null}
        {step === 3 ? (
          <>
            <Field label="User data" name="userData" hint="a script starting with #! runs once at first boot">{(id, a) => <textarea id={id} {...a} rows={7} value={userData} onChange={(e) => setUserData(e.target.value)} placeholder={'#!/bin/sh\necho hello from user-data'} />}</Field>
            <Field label="Command (optional)" name="command" hint="argv split on spaces; default: the image's shell">{(id, a) => <input id={id} {...a} value={command} onChange={(e) => setCommand(e.target.value)} placeholder="sleep 3600" />}</Field>
          </>
        ) : null}
        {step === 4 ? (
          <dl className="review">
            <dt>Name</dt><dd>{name}</dd><dt>Type</dt><dd>{type === 'vm' ? 'virtual machine' : 'container'}</dd><dt>Image</dt><dd>{img}</dd><dt>Flavor</dt><dd>{fl}</dd>
            <dt>Networks</dt><dd>{nets.map((n) => (ips[n]?.trim() ? `${n} (${ips[n]!.trim()})` : n)).join(', ') || 'default'}</dd><dt>Security groups</dt><dd>{sgs.join(', ') || 'default'}</dd>
            <dt>User data</dt><dd>{userData ? `${userData.split('\n').length} lines` : 'none'}</dd>
            <dt>Command</dt><dd>{command || 'image default'}</dd>
          </dl>
        ) : null}
        </FormErrors>
        <ErrorBox error={act.error} />
        <div className="dialog-foot">
          {step > 0 ? <button type="button" className="ghost" onClick={() => setStep(step - 1)}>Back</button> : <span />}
          {step < STEPS.length - 1
            ? <button type="submit" disabled={!canNext}>Next</button>
            : <button type="submit" disabled={act.busy}>{act.busy ? 'Launching…' : 'Launch'}</button>}
        </div>
      </form>
    </Dialog>
  );
}
