export * from "./errors.js";
export * from "./int.js";
export * from "./struct.js";
export * from "./crc.js";
export * from "./guid.js";
export * from "./text.js";
