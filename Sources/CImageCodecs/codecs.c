#include "wabox_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <webp/decode.h>
#include <webp/demux.h>
#include <webp/encode.h>

static void set_reason(char *reason, size_t reason_size, const char *text) {
    if (reason == NULL || reason_size == 0) return;
    snprintf(reason, reason_size, "%s", text);
}

static uint32_t big_endian_16(const uint8_t *p) { return ((uint32_t)p[0] << 8) | p[1]; }
static uint32_t big_endian_32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

// MARK: - Headers

static wbx_format sniff(const uint8_t *data, size_t size) {
    static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return WBX_FORMAT_JPEG;
    if (size >= 8 && memcmp(data, png_signature, 8) == 0) return WBX_FORMAT_PNG;
    if (size >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0) return WBX_FORMAT_WEBP;
    return WBX_FORMAT_UNKNOWN;
}

/// Walks the JPEG markers up to the first frame header (SOFn), which holds the size.
static wbx_status jpeg_header(const uint8_t *data, size_t size, wbx_header *header, char *reason, size_t reason_size) {
    size_t at = 2;
    while (at + 4 <= size) {
        if (data[at] != 0xff) {
            set_reason(reason, reason_size, "no JPEG marker where one was expected");
            return WBX_CORRUPT;
        }
        uint8_t marker = data[at + 1];
        if (marker == 0xff) {  // fill byte
            at += 1;
            continue;
        }
        at += 2;
        if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;  // no length
        if (marker == 0xd9 || marker == 0xda) {
            set_reason(reason, reason_size, "the JPEG has no frame header before its data");
            return WBX_CORRUPT;
        }
        uint32_t length = big_endian_16(data + at);
        if (length < 2) {
            set_reason(reason, reason_size, "a JPEG segment has an impossible length");
            return WBX_CORRUPT;
        }
        int frame = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
        if (frame) {
            if (length < 8 || at + 7 > size) break;
            header->format = WBX_FORMAT_JPEG;
            header->height = big_endian_16(data + at + 3);
            header->width = big_endian_16(data + at + 5);
            header->animated = 0;
            if (header->width == 0 || header->height == 0) {
                set_reason(reason, reason_size, "the JPEG's frame header gives no size");
                return WBX_CORRUPT;
            }
            return WBX_OK;
        }
        at += length;
    }
    set_reason(reason, reason_size, "the JPEG ends before its frame header");
    return WBX_CORRUPT;
}

/// The PNG's size, from its first chunk (IHDR), which the format puts at a fixed place.
static wbx_status png_header(const uint8_t *data, size_t size, wbx_header *header, char *reason, size_t reason_size) {
    if (size < 24 || memcmp(data + 12, "IHDR", 4) != 0 || big_endian_32(data + 8) != 13) {
        set_reason(reason, reason_size, "the PNG does not start with its header chunk");
        return WBX_CORRUPT;
    }
    header->format = WBX_FORMAT_PNG;
    header->width = big_endian_32(data + 16);
    header->height = big_endian_32(data + 20);
    header->animated = 0;
    if (header->width == 0 || header->height == 0 || header->width > 0x7fffffff || header->height > 0x7fffffff) {
        set_reason(reason, reason_size, "the PNG's header gives an impossible size");
        return WBX_CORRUPT;
    }
    return WBX_OK;
}

static wbx_status webp_header(const uint8_t *data, size_t size, wbx_header *header, char *reason, size_t reason_size) {
    WebPBitstreamFeatures features;
    VP8StatusCode status = WebPGetFeatures(data, size, &features);
    if (status != VP8_STATUS_OK) {
        set_reason(reason, reason_size,
                   status == VP8_STATUS_NOT_ENOUGH_DATA ? "the WebP ends inside its header" : "the WebP's header is damaged");
        return WBX_CORRUPT;
    }
    header->format = WBX_FORMAT_WEBP;
    header->width = (uint32_t)features.width;
    header->height = (uint32_t)features.height;
    header->animated = features.has_animation;
    return WBX_OK;
}

wbx_status wbx_read_header(const uint8_t *data, size_t size, wbx_header *header, char *reason, size_t reason_size) {
    memset(header, 0, sizeof *header);
    switch (sniff(data, size)) {
    case WBX_FORMAT_JPEG: return jpeg_header(data, size, header, reason, reason_size);
    case WBX_FORMAT_PNG: return png_header(data, size, header, reason, reason_size);
    case WBX_FORMAT_WEBP: return webp_header(data, size, header, reason, reason_size);
    default:
        set_reason(reason, reason_size, "not a JPEG, PNG or WebP file");
        return WBX_UNKNOWN_FORMAT;
    }
}

static int too_large(const wbx_header *header, uint64_t max_pixels) {
    return (uint64_t)header->width * (uint64_t)header->height > max_pixels;
}

static wbx_status allocate(wbx_pixels *out, uint32_t width, uint32_t height) {
    out->width = width;
    out->height = height;
    out->stride = width * 4;
    out->pixels = malloc((size_t)out->stride * height);
    return out->pixels == NULL ? WBX_NO_MEMORY : WBX_OK;
}

void wbx_pixels_free(wbx_pixels *pixels) {
    if (pixels == NULL) return;
    free(pixels->pixels);
    pixels->pixels = NULL;
}

void wbx_free(void *pointer) { free(pointer); }

// MARK: - Box averaging, for decoders that cannot scale by themselves

/// Averages `factor` × `factor` blocks of RGBA rows pushed one at a time, weighting colour
/// by alpha so that transparent pixels do not tint their neighbours.
typedef struct {
    uint32_t factor, in_width, in_height, row;
    uint64_t *sums;  // 4 per output pixel: r·a, g·a, b·a, a
    uint32_t *counts;
    wbx_pixels *out;
} box_filter;

static wbx_status box_start(box_filter *box, uint32_t in_width, uint32_t in_height, uint32_t factor, wbx_pixels *out) {
    memset(box, 0, sizeof *box);
    box->factor = factor;
    box->in_width = in_width;
    box->in_height = in_height;
    box->out = out;
    uint32_t out_width = (in_width + factor - 1) / factor, out_height = (in_height + factor - 1) / factor;
    if (allocate(out, out_width, out_height) != WBX_OK) return WBX_NO_MEMORY;
    box->sums = calloc((size_t)out_width * 4, sizeof(uint64_t));
    box->counts = calloc(out_width, sizeof(uint32_t));
    if (box->sums == NULL || box->counts == NULL) return WBX_NO_MEMORY;
    return WBX_OK;
}

static void box_push(box_filter *box, const uint8_t *row) {
    uint32_t out_width = box->out->width;
    for (uint32_t x = 0; x < box->in_width; x++) {
        const uint8_t *p = row + (size_t)x * 4;
        uint64_t *sum = box->sums + (size_t)(x / box->factor) * 4;
        sum[0] += (uint64_t)p[0] * p[3];
        sum[1] += (uint64_t)p[1] * p[3];
        sum[2] += (uint64_t)p[2] * p[3];
        sum[3] += p[3];
        box->counts[x / box->factor] += 1;
    }
    box->row += 1;
    if (box->row % box->factor != 0 && box->row != box->in_height) return;
    uint8_t *target = box->out->pixels + (size_t)((box->row - 1) / box->factor) * box->out->stride;
    for (uint32_t x = 0; x < out_width; x++) {
        uint64_t *sum = box->sums + (size_t)x * 4;
        uint32_t count = box->counts[x];
        uint8_t *q = target + (size_t)x * 4;
        if (sum[3] == 0 || count == 0) {
            q[0] = q[1] = q[2] = q[3] = 0;
        } else {
            q[0] = (uint8_t)(sum[0] / sum[3]);
            q[1] = (uint8_t)(sum[1] / sum[3]);
            q[2] = (uint8_t)(sum[2] / sum[3]);
            q[3] = (uint8_t)(sum[3] / count);
        }
    }
    memset(box->sums, 0, (size_t)out_width * 4 * sizeof(uint64_t));
    memset(box->counts, 0, (size_t)out_width * sizeof(uint32_t));
}

static void box_end(box_filter *box) {
    free(box->sums);
    free(box->counts);
    box->sums = NULL;
    box->counts = NULL;
}

/// The largest whole factor that keeps the image at least `min_width` × `min_height`.
static uint32_t reduction(uint32_t width, uint32_t height, uint32_t min_width, uint32_t min_height) {
    uint32_t by_width = min_width == 0 ? width : width / min_width;
    uint32_t by_height = min_height == 0 ? height : height / min_height;
    uint32_t factor = by_width < by_height ? by_width : by_height;
    return factor < 1 ? 1 : factor;
}

// MARK: - JPEG

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_failure;

static void jpeg_fail(j_common_ptr cinfo) {
    jpeg_failure *failure = (jpeg_failure *)cinfo->err;
    cinfo->err->format_message(cinfo, failure->message);
    longjmp(failure->jump, 1);
}

/// Warnings are not printed (stderr is the screen). A file cut short is an error, not a
/// photo half grey; other warnings (stray bytes some cameras leave) are let through.
static void jpeg_warn(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(cinfo);
}

static void jpeg_silent(j_common_ptr cinfo) { (void)cinfo; }

/// A progressive JPEG can ask for thousands of scans, each a pass over the whole image: a
/// few bytes that take minutes. Real photos have about ten.
static void jpeg_progress(j_common_ptr cinfo) {
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > 300) {
        jpeg_failure *failure = (jpeg_failure *)cinfo->err;
        snprintf(failure->message, sizeof failure->message, "more than 300 progressive scans");
        longjmp(failure->jump, 1);
    }
}

static wbx_status decode_jpeg(const uint8_t *data, size_t size, uint32_t min_width, uint32_t min_height,
                              uint64_t max_pixels, wbx_pixels *out, char *reason, size_t reason_size) {
    struct jpeg_decompress_struct cinfo;
    jpeg_failure failure;
    struct jpeg_progress_mgr progress;
    // Set after setjmp and read after longjmp: volatile, or the compiler may keep a stale copy.
    uint8_t *volatile cmyk_row = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&progress, 0, sizeof progress);
    cinfo.err = jpeg_std_error(&failure.base);
    failure.base.error_exit = jpeg_fail;
    failure.base.emit_message = jpeg_warn;
    failure.base.output_message = jpeg_silent;
    failure.message[0] = 0;
    if (setjmp(failure.jump)) {
        set_reason(reason, reason_size, failure.message);
        jpeg_destroy_decompress(&cinfo);
        free(cmyk_row);
        wbx_pixels_free(out);
        return WBX_CORRUPT;
    }
    jpeg_create_decompress(&cinfo);
    progress.progress_monitor = jpeg_progress;
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    wbx_header header = {WBX_FORMAT_JPEG, cinfo.image_width, cinfo.image_height, 0};
    if (too_large(&header, max_pixels)) {
        jpeg_destroy_decompress(&cinfo);
        set_reason(reason, reason_size, "too many pixels");
        return WBX_TOO_LARGE;
    }
    // DCT scaling: the smallest n/8 that keeps the image at least the size asked for; a
    // 12-megapixel photo decodes at 1/8 of each side, 1/64 of the work.
    unsigned scale = 8;
    for (unsigned n = 1; n <= 8; n++) {
        uint64_t w = ((uint64_t)cinfo.image_width * n + 7) / 8, h = ((uint64_t)cinfo.image_height * n + 7) / 8;
        if (w >= min_width && h >= min_height) {
            scale = n;
            break;
        }
    }
    cinfo.scale_num = scale;
    cinfo.scale_denom = 8;
    cinfo.dct_method = JDCT_ISLOW;
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_EXT_RGBA;
    jpeg_start_decompress(&cinfo);
    if (allocate(out, cinfo.output_width, cinfo.output_height) != WBX_OK) {
        jpeg_destroy_decompress(&cinfo);
        set_reason(reason, reason_size, "out of memory");
        return WBX_NO_MEMORY;
    }
    if (cmyk && (cmyk_row = malloc((size_t)cinfo.output_width * 4)) == NULL) {
        jpeg_destroy_decompress(&cinfo);
        wbx_pixels_free(out);
        set_reason(reason, reason_size, "out of memory");
        return WBX_NO_MEMORY;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *row = out->pixels + (size_t)cinfo.output_scanline * out->stride;
        JSAMPROW rows[1] = {cmyk ? cmyk_row : row};
        jpeg_read_scanlines(&cinfo, rows, 1);
        if (cmyk) {
            // Adobe writes CMYK inverted: each byte is already 255 - ink.
            for (uint32_t x = 0; x < cinfo.output_width; x++) {
                const uint8_t *p = cmyk_row + (size_t)x * 4;
                row[x * 4 + 0] = (uint8_t)(p[0] * p[3] / 255);
                row[x * 4 + 1] = (uint8_t)(p[1] * p[3] / 255);
                row[x * 4 + 2] = (uint8_t)(p[2] * p[3] / 255);
                row[x * 4 + 3] = 255;
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(cmyk_row);
    return WBX_OK;
}

// MARK: - PNG

typedef struct {
    const uint8_t *data;
    size_t size, offset;
    jmp_buf jump;
    char message[200];
} png_source;

static void png_read_bytes(png_structp png, png_bytep out, size_t count) {
    png_source *source = png_get_io_ptr(png);
    if (source->size - source->offset < count) png_error(png, "the file ends early");
    memcpy(out, source->data + source->offset, count);
    source->offset += count;
}

static void png_fail(png_structp png, png_const_charp message) {
    png_source *source = png_get_error_ptr(png);
    snprintf(source->message, sizeof source->message, "%s", message);
    longjmp(source->jump, 1);
}

static void png_ignore(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static wbx_status decode_png(const uint8_t *data, size_t size, uint32_t min_width, uint32_t min_height,
                             uint64_t max_pixels, wbx_pixels *out, char *reason, size_t reason_size) {
    png_source source;
    memset(&source, 0, sizeof source);
    source.data = data;
    source.size = size;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, png_fail, png_ignore);
    if (png == NULL) return WBX_NO_MEMORY;
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile row = NULL;
    uint8_t *volatile image = NULL;
    box_filter box;
    memset(&box, 0, sizeof box);
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        return WBX_NO_MEMORY;
    }
    if (setjmp(source.jump)) {
        set_reason(reason, reason_size, source.message);
        png_destroy_read_struct(&png, &info, NULL);
        free(row);
        free(image);
        box_end(&box);
        wbx_pixels_free(out);
        return WBX_CORRUPT;
    }
    png_set_read_fn(png, &source, png_read_bytes);
    png_read_info(png, info);
    wbx_header header = {WBX_FORMAT_PNG, png_get_image_width(png, info), png_get_image_height(png, info), 0};
    if (too_large(&header, max_pixels)) {
        png_destroy_read_struct(&png, &info, NULL);
        set_reason(reason, reason_size, "too many pixels");
        return WBX_TOO_LARGE;
    }
    int color_type = png_get_color_type(png, info);
    int has_alpha = (color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS);
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_gray_to_rgb(png);
    if (!has_alpha) png_set_filler(png, 0xff, PNG_FILLER_AFTER);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)header.width * 4) png_error(png, "unexpected row layout");
    uint32_t factor = reduction(header.width, header.height, min_width, min_height);
    if (passes == 1) {
        // Row by row into the averager: memory for one row, not the whole image.
        if ((row = malloc((size_t)header.width * 4)) == NULL || box_start(&box, header.width, header.height, factor, out) != WBX_OK) {
            png_error(png, "out of memory");
        }
        for (uint32_t y = 0; y < header.height; y++) {
            png_read_row(png, row, NULL);
            box_push(&box, row);
        }
    } else {
        // Interlaced: every pass touches every row, so the whole image is decoded first.
        if ((image = malloc((size_t)header.width * 4 * header.height)) == NULL
            || box_start(&box, header.width, header.height, factor, out) != WBX_OK) {
            png_error(png, "out of memory");
        }
        for (int pass = 0; pass < passes; pass++) {
            for (uint32_t y = 0; y < header.height; y++) png_read_row(png, image + (size_t)y * header.width * 4, NULL);
        }
        for (uint32_t y = 0; y < header.height; y++) box_push(&box, image + (size_t)y * header.width * 4);
    }
    // Not png_read_end: what follows the pixels (text, a missing IEND) does not matter here.
    png_destroy_read_struct(&png, &info, NULL);
    free(row);
    free(image);
    box_end(&box);
    return WBX_OK;
}

// MARK: - WebP

static const char *webp_reason(VP8StatusCode status) {
    switch (status) {
    case VP8_STATUS_NOT_ENOUGH_DATA: return "the WebP ends early";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "the WebP uses a feature libwebp does not support";
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    default: return "the WebP's data is damaged";
    }
}

static wbx_status decode_webp(const uint8_t *data, size_t size, uint32_t min_width, uint32_t min_height,
                              uint64_t max_pixels, wbx_pixels *out, char *reason, size_t reason_size) {
    wbx_header header;
    wbx_status status = webp_header(data, size, &header, reason, reason_size);
    if (status != WBX_OK) return status;
    if (too_large(&header, max_pixels)) {
        set_reason(reason, reason_size, "too many pixels");
        return WBX_TOO_LARGE;
    }
    if (header.animated) {
        // An animated sticker: its first frame, through the demuxer.
        WebPAnimDecoderOptions options;
        if (!WebPAnimDecoderOptionsInit(&options)) return WBX_NO_MEMORY;
        options.color_mode = MODE_RGBA;
        options.use_threads = 0;
        WebPData input = {data, size};
        WebPAnimDecoder *decoder = WebPAnimDecoderNew(&input, &options);
        if (decoder == NULL) {
            set_reason(reason, reason_size, "the animated WebP is damaged");
            return WBX_CORRUPT;
        }
        WebPAnimInfo info;
        uint8_t *frame = NULL;
        int timestamp = 0;
        if (!WebPAnimDecoderGetInfo(decoder, &info) || !WebPAnimDecoderGetNext(decoder, &frame, &timestamp)) {
            WebPAnimDecoderDelete(decoder);
            set_reason(reason, reason_size, "the animated WebP's first frame is damaged");
            return WBX_CORRUPT;
        }
        if (allocate(out, info.canvas_width, info.canvas_height) != WBX_OK) {
            WebPAnimDecoderDelete(decoder);
            return WBX_NO_MEMORY;
        }
        memcpy(out->pixels, frame, (size_t)out->stride * out->height);
        WebPAnimDecoderDelete(decoder);
        return WBX_OK;
    }
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) return WBX_NO_MEMORY;
    uint32_t width = header.width, height = header.height;
    uint32_t factor = reduction(width, height, min_width, min_height);
    if (factor > 1) {
        width = (width + factor - 1) / factor;
        height = (height + factor - 1) / factor;
        config.options.use_scaling = 1;
        config.options.scaled_width = (int)width;
        config.options.scaled_height = (int)height;
    }
    if (allocate(out, width, height) != WBX_OK) return WBX_NO_MEMORY;
    config.output.colorspace = MODE_RGBA;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = out->pixels;
    config.output.u.RGBA.stride = (int)out->stride;
    config.output.u.RGBA.size = (size_t)out->stride * height;
    VP8StatusCode result = WebPDecode(data, size, &config);
    WebPFreeDecBuffer(&config.output);
    if (result != VP8_STATUS_OK) {
        wbx_pixels_free(out);
        set_reason(reason, reason_size, webp_reason(result));
        return result == VP8_STATUS_OUT_OF_MEMORY ? WBX_NO_MEMORY : WBX_CORRUPT;
    }
    return WBX_OK;
}

wbx_status wbx_decode(const uint8_t *data, size_t size, uint32_t min_width, uint32_t min_height, uint64_t max_pixels,
                      wbx_pixels *out, char *reason, size_t reason_size) {
    memset(out, 0, sizeof *out);
    set_reason(reason, reason_size, "");
    // The header first, whatever the decoder would do: a size over the limit is refused
    // before a decoder allocates anything for it.
    wbx_header header;
    wbx_status status = wbx_read_header(data, size, &header, reason, reason_size);
    if (status != WBX_OK) return status;
    if (too_large(&header, max_pixels)) {
        set_reason(reason, reason_size, "too many pixels");
        return WBX_TOO_LARGE;
    }
    switch (header.format) {
    case WBX_FORMAT_JPEG: return decode_jpeg(data, size, min_width, min_height, max_pixels, out, reason, reason_size);
    case WBX_FORMAT_PNG: return decode_png(data, size, min_width, min_height, max_pixels, out, reason, reason_size);
    case WBX_FORMAT_WEBP: return decode_webp(data, size, min_width, min_height, max_pixels, out, reason, reason_size);
    default: return WBX_UNKNOWN_FORMAT;
    }
}

// MARK: - Encoders

wbx_status wbx_encode_jpeg(const uint8_t *rgb, uint32_t width, uint32_t height, int quality, uint8_t **out,
                           size_t *out_size) {
    struct jpeg_compress_struct cinfo;
    jpeg_failure failure;
    unsigned char *buffer = NULL;
    unsigned long length = 0;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&failure.base);
    failure.base.error_exit = jpeg_fail;
    failure.base.output_message = jpeg_silent;
    if (setjmp(failure.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return WBX_CORRUPT;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buffer, &length);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row[1] = {(JSAMPROW)(rgb + (size_t)cinfo.next_scanline * width * 3)};
        jpeg_write_scanlines(&cinfo, row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *out_size = length;
    return WBX_OK;
}

wbx_status wbx_encode_webp(const uint8_t *rgba, uint32_t width, uint32_t height, float quality, uint8_t **out,
                           size_t *out_size) {
    uint8_t *encoded = NULL;
    size_t length = WebPEncodeRGBA(rgba, (int)width, (int)height, (int)width * 4, quality, &encoded);
    if (length == 0) return WBX_CORRUPT;
    *out = malloc(length);
    if (*out == NULL) {
        WebPFree(encoded);
        return WBX_NO_MEMORY;
    }
    memcpy(*out, encoded, length);
    WebPFree(encoded);
    *out_size = length;
    return WBX_OK;
}
