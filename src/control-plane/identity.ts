/** The emulator has exactly one team and one user (PRODUCT.md: one team, no quotas). */
export const localTeamId = 'team-local';
export const localUserId = 'user-local';
export const localRegionId = 'local';
export const localClusterId = 'emulator';
