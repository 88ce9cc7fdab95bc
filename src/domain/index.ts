export * from "./realm.js";
export * from "./client.js";
export * from "./scope.js";
export * from "./user.js";
export * from "./signing-key.js";
export * from "./clock.js";
export * from "./token-types.js";
export * from "./realm-urls.js";
