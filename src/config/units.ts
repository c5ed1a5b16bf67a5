/** How the config spells durations and sizes: a leaf module, so every part's config types (ddns, relay) can use them without importing the whole config's. */
/** A duration in seconds (`30`) or with a unit (`'500ms'`, `'30s'`, `'5m'`, `'1h'`). */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h'}`;

/** A size in bytes (`1048576`) or with a unit (`'512kb'`, `'10mb'`, `'1gb'`). */
export type Size = number | `${number}${'b' | 'kb' | 'mb' | 'gb' | 'KB' | 'MB' | 'GB'}`;
