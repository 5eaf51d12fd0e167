import CImageCodecs
import Foundation
import Glibc
import InboxCore

/// A small copy of a large photo, kept beside it as `NAME.preview.webp`: made once when the
/// photo is downloaded (by whichever process downloads it), so that opening a thread
/// decodes some 500 × 375 pixels instead of a camera's 12 megapixels.
///
/// A 12-megapixel JPEG costs libjpeg some 60 ms of a core even at 1/8 of each side (every
/// coefficient must be read); its 250 × 187 thumbnail, 4 ms. A screen that finds no
/// thumbnail (a photo downloaded by an older version, a folder it cannot read) decodes the
/// photo itself, as before.
public enum PreviewThumbnail {
    /// Images with fewer pixels are decoded directly: their thumbnail would save little.
    public static let minimumPixels = 1_500_000
    /// Any preview the thread draws needs at most 8 rows of 8 pixels, and at most twice
    /// the image's width-to-height ratio in cells per row (see `ImagePreviewer.fit`):
    /// 128 pixels high covers both.
    public static let minimumHeight = 128

    public static func path(forImageAt path: String) -> String { path + ".preview.webp" }

    /// Whether the image at `path` is large enough to need a thumbnail.
    public static func isWorthMaking(width: Int, height: Int) -> Bool { width * height >= minimumPixels }

    /// Writes the thumbnail of the image at `path` beside it (through a temporary file and a
    /// rename, with `permissions`), when the image is large enough to need one. Returns
    /// whether it wrote one; a failure says why (the screen then decodes the photo itself).
    ///
    /// - Important: Blocking work (tens of milliseconds for a large photo): off the cooperative pool.
    @discardableResult
    public static func write(forImageAt path: String, permissions: Int = 0o600) -> Result<Bool, PreviewFailure> {
        let file: MappedFile
        switch MappedFile.open(path) {
        case .success(let mapped): file = mapped
        case .failure(let failure): return .failure(failure)
        }
        return file.withBytes { bytes -> Result<Bool, PreviewFailure> in
            let header: ImageHeader
            switch ImagePreviewer.checkedHeader(bytes) {
            case .success(let checked): header = checked
            case .failure(let failure): return .failure(failure)
            }
            guard isWorthMaking(width: header.width, height: header.height) else { return .success(false) }
            let decoded: DecodedPixels
            switch DecodedPixels.decode(bytes, minWidth: 1, minHeight: minimumHeight) {
            case .success(let pixels): decoded = pixels
            case .failure(let failure): return .failure(failure)
            }
            let encoded: Data
            do {
                encoded = try decoded.withPixels { pixels throws(ImageEncoder.Failure) in
                    let (rgba, width, height) = shrunk(pixels)
                    return try ImageEncoder.webp(rgba: rgba, width: width, height: height, quality: 90)
                }
            } catch {
                return .failure(PreviewFailure("cannot encode the thumbnail: \(error)"))
            }
            let target = Self.path(forImageAt: path)
            let temporary = target + ".part-\(UUID().uuidString.prefix(8))"
            guard FileManager.default.createFile(atPath: temporary, contents: encoded,
                                                 attributes: [.posixPermissions: permissions]) else {
                return .failure(PreviewFailure("cannot write \(TerminalText.sanitize(temporary)): \(String(cString: strerror(errno)))"))
            }
            guard rename(temporary, target) == 0 else {
                unlink(temporary)
                return .failure(PreviewFailure("cannot rename the thumbnail into \(TerminalText.sanitize(target))"))
            }
            return .success(true)
        }
    }

    /// The decoder's pixels (libjpeg scales by eighths only: 500 × 375 for a 12-megapixel
    /// photo), averaged over whole blocks down to between 1 and 2 times `minimumHeight`:
    /// a quarter of the pixels to encode now and to decode at every first look.
    static func shrunk(_ pixels: wbx_pixels) -> (rgba: [UInt8], width: Int, height: Int) {
        let sourceWidth = Int(pixels.width), sourceHeight = Int(pixels.height), stride = Int(pixels.stride)
        let factor = max(1, sourceHeight / minimumHeight)
        let width = max(1, sourceWidth / factor), height = sourceHeight / factor
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        let source = UnsafeBufferPointer(start: pixels.pixels, count: stride * sourceHeight)
        let area = factor * factor
        rgba.withUnsafeMutableBufferPointer { target in
            for y in 0..<height {
                for x in 0..<width {
                    var sums = (0, 0, 0, 0)
                    for dy in 0..<factor {
                        var offset = (y * factor + dy) * stride + x * factor * 4
                        for _ in 0..<factor {
                            sums.0 += Int(source[offset])
                            sums.1 += Int(source[offset + 1])
                            sums.2 += Int(source[offset + 2])
                            sums.3 += Int(source[offset + 3])
                            offset += 4
                        }
                    }
                    let index = (y * width + x) * 4
                    target[index] = UInt8(sums.0 / area)
                    target[index + 1] = UInt8(sums.1 / area)
                    target[index + 2] = UInt8(sums.2 / area)
                    target[index + 3] = UInt8(sums.3 / area)
                }
            }
        }
        return (rgba, width, height)
    }

    /// The thumbnail of the image at `path`, mapped, when there is one at least as new as the image.
    static func open(forImageAt path: String) -> MappedFile? {
        let thumbnail = Self.path(forImageAt: path)
        var image = stat(), small = stat()
        guard stat(path, &image) == 0, stat(thumbnail, &small) == 0,
              small.st_mtim.tv_sec > image.st_mtim.tv_sec
                || (small.st_mtim.tv_sec == image.st_mtim.tv_sec && small.st_mtim.tv_nsec >= image.st_mtim.tv_nsec)
        else { return nil }
        return try? MappedFile.open(thumbnail).get()
    }
}
