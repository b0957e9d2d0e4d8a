/** "1 phase", "2 phases": counts read right in every message. */
export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** What a list is of: "1 HelmRelease", "2 HelmReleases", with an optional total after it. */
export interface Noun {
  one: string;
  many?: string;
  suffix?: string;
}
