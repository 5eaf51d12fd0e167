import CImageCodecs
import Foundation

/// Writes JPEG (libjpeg) and WebP (libwebp) files from pixels: tests and the benchmark make
/// their own images with it rather than carry files from elsewhere. The screen never encodes.
public enum ImageEncoder {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// A baseline JPEG of `rgb` (3 bytes a pixel, rows without padding).
    public static func jpeg(rgb: [UInt8], width: Int, height: Int, quality: Int = 85) throws(Failure) -> Data {
        precondition(rgb.count == width * height * 3, "3 bytes a pixel")
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = rgb.withUnsafeBufferPointer {
            wbx_encode_jpeg($0.baseAddress, UInt32(width), UInt32(height), Int32(quality), &output, &size)
        }
        guard status == WBX_OK, let output else { throw Failure(description: "libjpeg could not encode \(width)×\(height)") }
        defer { wbx_free(output) }
        return Data(bytes: output, count: size)
    }

    /// A JPEG whose pixel at (x, y) is `pixel(x, y)`.
    public static func jpeg(width: Int, height: Int, quality: Int = 85,
                            pixel: (Int, Int) -> (UInt8, UInt8, UInt8)) throws(Failure) -> Data {
        try jpeg(rgb: rgb(width: width, height: height, pixel: pixel), width: width, height: height, quality: quality)
    }

    /// A lossy WebP of `rgba` (4 bytes a pixel, rows without padding).
    public static func webp(rgba: [UInt8], width: Int, height: Int, quality: Float = 80) throws(Failure) -> Data {
        precondition(rgba.count == width * height * 4, "4 bytes a pixel")
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = rgba.withUnsafeBufferPointer {
            wbx_encode_webp($0.baseAddress, UInt32(width), UInt32(height), quality, &output, &size)
        }
        guard status == WBX_OK, let output else { throw Failure(description: "libwebp could not encode \(width)×\(height)") }
        defer { wbx_free(output) }
        return Data(bytes: output, count: size)
    }

    /// A WebP whose pixel at (x, y) is `pixel(x, y)` (red, green, blue, alpha).
    public static func webp(width: Int, height: Int, quality: Float = 80,
                            pixel: (Int, Int) -> (UInt8, UInt8, UInt8, UInt8)) throws(Failure) -> Data {
        var rgba: [UInt8] = []
        rgba.reserveCapacity(width * height * 4)
        for y in 0..<height {
            for x in 0..<width {
                let (r, g, b, a) = pixel(x, y)
                rgba += [r, g, b, a]
            }
        }
        return try webp(rgba: rgba, width: width, height: height, quality: quality)
    }

    static func rgb(width: Int, height: Int, pixel: (Int, Int) -> (UInt8, UInt8, UInt8)) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        var index = 0
        for y in 0..<height {
            for x in 0..<width {
                let (r, g, b) = pixel(x, y)
                rgb[index] = r
                rgb[index + 1] = g
                rgb[index + 2] = b
                index += 3
            }
        }
        return rgb
    }
}
