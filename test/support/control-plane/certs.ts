import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

// Per-run PKI made with the openssl CLI: a CA that signs the apiserver's serving certificate and the
// test users' client certificates, and the service-account key pair. EC P-256 keys: generated in
// milliseconds, and every component accepts them.

export interface KeyPair {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  ca: KeyPair;
  serving: KeyPair;
  /** CN=vw-test-admin, O=system:masters. */
  admin: KeyPair;
  /** CN=vw-restricted, no groups: only what the test RBAC grants. */
  restricted: KeyPair;
  serviceAccount: { publicKey: string; privateKey: string };
}

const openssl = (args: string[], cwd: string) => execa('openssl', args, { cwd, stdin: 'ignore' });

async function newKey(dir: string, name: string): Promise<string> {
  const key = join(dir, `${name}.key`);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], dir);
  return key;
}

/** A certificate signed by the CA, with the given subject and X.509 v3 extensions. */
async function signed(dir: string, name: string, subject: string, extensions: string[], ca: KeyPair): Promise<KeyPair> {
  const key = await newKey(dir, name);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, `${extensions.join('\n')}\n`);
  await openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr], dir);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '2',
      '-sha256',
      '-extfile',
      ext,
      '-out',
      cert,
    ],
    dir,
  );
  return { cert, key };
}

export async function generatePki(dir: string): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  const caKey = await newKey(dir, 'ca');
  const caCert = join(dir, 'ca.crt');
  await openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      caKey,
      '-subj',
      '/CN=vw-test-ca',
      '-days',
      '2',
      '-sha256',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      caCert,
    ],
    dir,
  );
  const ca = { cert: caCert, key: caKey };
  const clientExt = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ];
  const [serving, admin, restricted, saKey] = await Promise.all([
    signed(
      dir,
      'apiserver',
      '/CN=kube-apiserver',
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1',
      ],
      ca,
    ),
    signed(dir, 'admin', '/O=system:masters/CN=vw-test-admin', clientExt, ca),
    signed(dir, 'restricted', '/CN=vw-restricted', clientExt, ca),
    newKey(dir, 'service-account'),
  ]);
  const saPub = join(dir, 'service-account.pub');
  await openssl(['pkey', '-in', saKey, '-pubout', '-out', saPub], dir);
  return { dir, ca, serving, admin, restricted, serviceAccount: { publicKey: saPub, privateKey: saKey } };
}

/** The PKI generatePki(dir) made, found again in its directory (a snapshot's copy). */
export function pkiAt(dir: string): Pki {
  const pair = (name: string) => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) });
  return {
    dir,
    ca: pair('ca'),
    serving: pair('apiserver'),
    admin: pair('admin'),
    restricted: pair('restricted'),
    serviceAccount: { publicKey: join(dir, 'service-account.pub'), privateKey: join(dir, 'service-account.key') },
  };
}

/** A PEM file's content as the base64 a kubeconfig embeds. */
export const base64Of = async (path: string) => (await readFile(path)).toString('base64');
