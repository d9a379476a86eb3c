// Generated API types in one namespace (never edit src/gen: `make gen` rewrites it).
export * from "./gen/uniformity/v1/common";
export * from "./gen/uniformity/v1/selection";
export * from "./gen/uniformity/v1/training";
export * from "./gen/uniformity/v1/evaluation";
