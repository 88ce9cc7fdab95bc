export * from "./realm.js";
export * from "./client.js";
export * from "./scope.js";
export * from "./user.js";
export * from "./signing-key.js";
