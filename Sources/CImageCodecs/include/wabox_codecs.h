#ifndef WABOX_CODECS_H
#define WABOX_CODECS_H

// Image decoding for the inline previews: JPEG (libjpeg, DCT-scaled), PNG (libpng) and
// WebP (libwebp, stickers), from bytes in memory to RGBA. In C because libjpeg and libpng
// report errors by calling a handler that must not return (theirs calls exit()): ours
// longjmp back here, and setjmp cannot be used from Swift.
//
// Nothing here prints: the default warning handlers write to stderr, which is the screen.

#include <stddef.h>
#include <stdint.h>

typedef enum {
    WBX_FORMAT_UNKNOWN = 0,
    WBX_FORMAT_JPEG = 1,
    WBX_FORMAT_PNG = 2,
    WBX_FORMAT_WEBP = 3,
} wbx_format;

typedef enum {
    WBX_OK = 0,
    /// Not a JPEG, PNG or WebP file.
    WBX_UNKNOWN_FORMAT = 1,
    /// Damaged or cut short; `reason` says what the decoder ran into.
    WBX_CORRUPT = 2,
    /// More pixels than `max_pixels`: refused before any pixel memory was allocated.
    WBX_TOO_LARGE = 3,
    WBX_NO_MEMORY = 4,
} wbx_status;

typedef struct {
    wbx_format format;
    uint32_t width;
    uint32_t height;
    /// An animated WebP (most stickers): its first frame is decoded.
    int animated;
} wbx_header;

/// RGBA, 8 bits per channel, not premultiplied, rows `stride` bytes apart. Free with
/// `wbx_pixels_free`.
typedef struct {
    uint8_t *pixels;
    uint32_t width;
    uint32_t height;
    uint32_t stride;
} wbx_pixels;

/// Reads the image's format and size from its header alone: no pixel is decoded and
/// nothing is allocated. A header that claims any size is answered; limits are the caller's.
wbx_status wbx_read_header(const uint8_t *data, size_t size, wbx_header *header, char *reason, size_t reason_size);

/// Decodes to RGBA, at a reduced size when the decoder can do that cheaply (JPEG's DCT
/// scaling, WebP's scaler, box-averaged PNG rows) but never below `min_width` ×
/// `min_height` unless the image itself is smaller. Refuses (`WBX_TOO_LARGE`) an image of
/// more than `max_pixels` before allocating anything for its pixels.
wbx_status wbx_decode(const uint8_t *data, size_t size, uint32_t min_width, uint32_t min_height, uint64_t max_pixels,
                      wbx_pixels *out, char *reason, size_t reason_size);

void wbx_pixels_free(wbx_pixels *pixels);

// MARK: - Encoders, for tests and the benchmark (which make their own images)

/// Encodes RGB rows (3 bytes a pixel, no padding) as a baseline JPEG. Free with `wbx_free`.
wbx_status wbx_encode_jpeg(const uint8_t *rgb, uint32_t width, uint32_t height, int quality, uint8_t **out,
                           size_t *out_size);

/// Encodes RGBA rows (4 bytes a pixel, no padding) as a lossy WebP. Free with `wbx_free`.
wbx_status wbx_encode_webp(const uint8_t *rgba, uint32_t width, uint32_t height, float quality, uint8_t **out,
                           size_t *out_size);

void wbx_free(void *pointer);

#endif
