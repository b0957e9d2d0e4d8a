// Stops the control plane global-setup started (globals set there are visible here only).
export default async function globalTeardown(): Promise<void> {
  const cp = globalThis.__vwControlPlane;
  globalThis.__vwControlPlane = undefined;
  await cp?.stop();
}
