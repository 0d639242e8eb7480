// Values the handler needs at run time and the schema needs to check config,
// in a module without zod: importing them must not load the schema library
// into the Lambda bundle (config/runtime-check.ts says why).

/** Formats we accept as input. Anything else (SVG, HEIC, BMP, PDF...) is refused. */
export const INPUT_FORMATS = ["jpeg", "png", "webp", "gif", "avif", "tiff"] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/**
 * Formats a variant can be written in; "original" keeps the input's format when
 * browsers can show it; "auto" picks AVIF, WebP or the original's format from
 * the request's Accept header (stored once per format, answered with Vary: Accept).
 */
export const OUTPUT_FORMATS = ["jpeg", "png", "webp", "avif", "original", "auto"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

// Lambda's synchronous payload limit is 6 MB for the whole event; a base64 body
// grows by 4/3, so about 4.4 MB of image is the most that can ever arrive.
export const MAX_UPLOAD_BYTES_CEILING = 4_400_000;

/**
 * Which part of the image a cover crop keeps when the original has no focal
 * point: the centre, or libvips' saliency strategies as sharp exposes them
 * (https://sharp.pixelplumbing.com/api-resize#resize): "attention" (skin
 * tones, saturation, luminance edges), "entropy" (the most detail).
 */
export const CROP_POSITIONS = ["centre", "attention", "entropy"] as const;
export type CropPosition = (typeof CROP_POSITIONS)[number];

/** When the sizes are made: at the first request for each, or all at upload. */
export const SIZES_AT = ["request", "upload"] as const;
