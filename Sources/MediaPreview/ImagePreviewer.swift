import CImageCodecs
import CImaging
import Foundation
import Glibc
import InboxCore

/// Makes previews: reads an image's header, refuses one over `maximumPixels`, decodes the
/// rest at a reduced size and has libchafa turn the pixels into symbols (block, box-drawing
/// and braille characters) with two indexed colours each.
///
/// - Important: Blocking work (file reading, decoding) for a thread of its own: never
///   the main thread, which draws, nor the cooperative pool.
public enum ImagePreviewer {
    /// Images with more pixels are refused from their header: 50 megapixels.
    public static let maximumPixels = 50_000_000

    /// The cells a `width` × `height` image takes inside `maxColumns` × `maxRows`, keeping its
    /// shape: a terminal cell is about twice as tall as it is wide. A small image is not
    /// blown up past one cell per 2 × 4 pixels (a braille cell's dots).
    public static func fit(width: Int, height: Int, maxColumns: Int, maxRows: Int) -> (columns: Int, rows: Int) {
        guard width > 0, height > 0, maxColumns > 0, maxRows > 0 else { return (0, 0) }
        let rowLimit = min(maxRows, max(1, (height + 3) / 4))
        var rows = Double(rowLimit)
        var columns = Double(width) / Double(height) * rows * 2
        if columns > Double(maxColumns) {
            columns = Double(maxColumns)
            rows = columns * Double(height) / Double(width) / 2
        }
        return (max(1, min(maxColumns, Int(columns.rounded()))), max(1, min(rowLimit, Int(rows.rounded()))))
    }

    /// The preview `request` asks for, from the file at its path.
    public static func make(_ request: PreviewRequest) -> Result<ImagePreview, PreviewFailure> {
        let file: MappedFile
        switch MappedFile.open(request.path) {
        case .success(let mapped): file = mapped
        case .failure(let failure): return .failure(failure)
        }
        // A large photo's pixels come from its thumbnail when the downloader made one.
        let thumbnail = PreviewThumbnail.open(forImageAt: request.path)
        return file.withBytes { bytes in
            guard let thumbnail else {
                return make(from: bytes, maxColumns: request.maxColumns, maxRows: request.maxRows, colors: request.colors)
            }
            return thumbnail.withBytes { small in
                make(from: bytes, pixelsFrom: small, maxColumns: request.maxColumns, maxRows: request.maxRows,
                     colors: request.colors)
            }
        }
    }

    /// The preview of the image in `bytes`, its pixels decoded from `pixelsFrom` when given
    /// (a thumbnail of it: see `PreviewThumbnail`) and large enough, else from `bytes`.
    public static func make(from bytes: UnsafeRawBufferPointer, pixelsFrom thumbnail: UnsafeRawBufferPointer? = nil,
                            maxColumns: Int, maxRows: Int,
                            colors: PreviewColors) -> Result<ImagePreview, PreviewFailure> {
        let header: ImageHeader
        switch checkedHeader(bytes) {
        case .success(let checked): header = checked
        case .failure(let failure): return .failure(failure)
        }
        let (columns, rows) = fit(width: header.width, height: header.height, maxColumns: maxColumns, maxRows: maxRows)
        guard colors != .none, columns > 0 else {
            return .success(ImagePreview(format: header.format, pixelWidth: header.width, pixelHeight: header.height,
                                         columns: 0, rows: 0, cells: []))
        }
        // chafa works on 8 × 8 pixels a cell: more would be decoded for nothing.
        let decoded: DecodedPixels
        if let thumbnail, let small = try? DecodedPixels.decode(thumbnail, minWidth: columns * 8, minHeight: rows * 8).get(),
           small.width >= columns * 8, small.height >= rows * 8 {
            decoded = small
        } else {
            switch DecodedPixels.decode(bytes, minWidth: columns * 8, minHeight: rows * 8) {
            case .success(let pixels): decoded = pixels
            case .failure(let failure): return .failure(failure)
            }
        }
        let cells = decoded.withPixels { Symbols.draw($0, columns: columns, rows: rows) }
        return .success(ImagePreview(format: header.format, pixelWidth: header.width, pixelHeight: header.height,
                                     columns: columns, rows: rows, cells: cells))
    }

    /// The header of the image in `bytes`, refused when it has more than `maximumPixels`.
    static func checkedHeader(_ bytes: UnsafeRawBufferPointer) -> Result<ImageHeader, PreviewFailure> {
        do throws(PreviewFailure) {
            let header = try ImageHeader.read(bytes)
            guard header.width * header.height <= maximumPixels else {
                return .failure(.tooLarge(width: header.width, height: header.height))
            }
            return .success(header)
        } catch {
            return .failure(error)
        }
    }

    public static func make(from data: Data, maxColumns: Int, maxRows: Int,
                            colors: PreviewColors) -> Result<ImagePreview, PreviewFailure> {
        data.withUnsafeBytes { make(from: $0, maxColumns: maxColumns, maxRows: maxRows, colors: colors) }
    }
}

/// An image's format and size, read from its header without decoding a pixel.
public struct ImageHeader: Sendable, Hashable {
    public var format: ImageFormat
    public var width: Int
    public var height: Int
    /// An animated WebP (most stickers): the preview shows its first frame.
    public var animated: Bool

    public static func read(_ bytes: UnsafeRawBufferPointer) throws(PreviewFailure) -> ImageHeader {
        var header = wbx_header()
        var reason = [CChar](repeating: 0, count: 256)
        let status = wbx_read_header(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &header,
                                     &reason, reason.count)
        switch status {
        case WBX_OK: break
        case WBX_UNKNOWN_FORMAT: throw .notAnImage
        default: throw .damaged(Self.text(reason))
        }
        let format: ImageFormat = switch header.format {
        case WBX_FORMAT_JPEG: .jpeg
        case WBX_FORMAT_PNG: .png
        default: .webp
        }
        return ImageHeader(format: format, width: Int(header.width), height: Int(header.height), animated: header.animated != 0)
    }

    public static func read(_ data: Data) throws(PreviewFailure) -> ImageHeader {
        var result: Result<ImageHeader, PreviewFailure> = .failure(.notAnImage)
        data.withUnsafeBytes { bytes in
            do throws(PreviewFailure) {
                result = .success(try read(bytes))
            } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }

    static func text(_ reason: [CChar]) -> String {
        let bytes = reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return TerminalText.sanitize(String(decoding: bytes, as: UTF8.self))
    }
}

// MARK: - Decoding

/// RGBA pixels from the C decoders, freed with the value.
final class DecodedPixels {
    private var pixels: wbx_pixels

    private init(_ pixels: wbx_pixels) {
        self.pixels = pixels
    }

    deinit { wbx_pixels_free(&pixels) }

    static func decode(_ bytes: UnsafeRawBufferPointer, minWidth: Int, minHeight: Int) -> Result<DecodedPixels, PreviewFailure> {
        var pixels = wbx_pixels()
        var reason = [CChar](repeating: 0, count: 256)
        let status = wbx_decode(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, UInt32(minWidth),
                                UInt32(minHeight), UInt64(ImagePreviewer.maximumPixels), &pixels, &reason, reason.count)
        switch status {
        case WBX_OK: return .success(DecodedPixels(pixels))
        case WBX_UNKNOWN_FORMAT: return .failure(.notAnImage)
        case WBX_NO_MEMORY: return .failure(.outOfMemory)
        case WBX_TOO_LARGE:
            // The header check above already refused these; a decoder that disagrees about
            // the size is treated as damage.
            return .failure(.damaged("its size changed while decoding"))
        default: return .failure(.damaged(ImageHeader.text(reason)))
        }
    }

    var width: Int { Int(pixels.width) }
    var height: Int { Int(pixels.height) }

    func withPixels<T, E>(_ body: (wbx_pixels) throws(E) -> T) throws(E) -> T { try body(pixels) }
}

/// A file mapped into memory, read only: a header check touches a page or two of it, not
/// the whole file.
final class MappedFile {
    private let address: UnsafeMutableRawPointer?
    private let size: Int

    private init(address: UnsafeMutableRawPointer?, size: Int) {
        self.address = address
        self.size = size
    }

    deinit { if let address { munmap(address, size) } }

    static func open(_ path: String) -> Result<MappedFile, PreviewFailure> {
        func failure(_ what: String) -> PreviewFailure {
            PreviewFailure("cannot \(what) \(TerminalText.sanitize(path)): \(String(cString: strerror(errno)))")
        }
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return .failure(failure("open")) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return .failure(failure("read")) }
        guard info.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG) else { return .failure(PreviewFailure("\(TerminalText.sanitize(path)) is not a file")) }
        let size = Int(info.st_size)
        guard size > 0 else { return .failure(PreviewFailure("the file is empty")) }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0),
              address != UnsafeMutableRawPointer(bitPattern: -1) else {
            return .failure(failure("map"))
        }
        return .success(MappedFile(address: address, size: size))
    }

    func withBytes<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        body(UnsafeRawBufferPointer(start: address, count: size))
    }
}

// MARK: - Symbols

/// libchafa in symbols mode: pixels in, one symbol and two colours per cell out.
enum Symbols {
    /// chafa splits a canvas among threads of its own; for a few hundred cells the hand-offs
    /// cost more than they save (3 ms on one thread), and the cores are the listener's.
    private static let oneThread: Void = chafa_set_n_threads(1)

    static func draw(_ pixels: wbx_pixels, columns: Int, rows: Int) -> [PreviewCell] {
        _ = oneThread
        let config = chafa_canvas_config_new()
        defer { chafa_canvas_config_unref(config) }
        chafa_canvas_config_set_geometry(config, Int32(columns), Int32(rows))
        chafa_canvas_config_set_pixel_mode(config, CHAFA_PIXEL_MODE_SYMBOLS)
        chafa_canvas_config_set_canvas_mode(config, CHAFA_CANVAS_MODE_INDEXED_240)
        let symbols = chafa_symbol_map_new()
        defer { chafa_symbol_map_unref(symbols) }
        chafa_symbol_map_add_by_tags(symbols, cim_preview_symbols())
        chafa_symbol_map_remove_by_tags(symbols, cim_unwanted_symbols())
        chafa_canvas_config_set_symbol_map(config, symbols)
        let canvas = chafa_canvas_new(config)
        defer { chafa_canvas_unref(canvas) }
        chafa_canvas_draw_all_pixels(canvas, CHAFA_PIXEL_RGBA8_UNASSOCIATED, pixels.pixels, Int32(pixels.width),
                                     Int32(pixels.height), Int32(pixels.stride))
        var cells: [PreviewCell] = []
        cells.reserveCapacity(columns * rows)
        for y in 0..<Int32(rows) {
            for x in 0..<Int32(columns) {
                var character = Unicode.Scalar(chafa_canvas_get_char_at(canvas, x, y)).map(Character.init) ?? " "
                // Raw colours: in an indexed mode, the palette index (-1 where transparent).
                var rawForeground: Int32 = -1, rawBackground: Int32 = -1
                chafa_canvas_get_raw_colors_at(canvas, x, y, &rawForeground, &rawBackground)
                // Only a symbol one cell wide keeps the grid; chafa's set has no other, but
                // the grid must not depend on that.
                // The blank braille pattern is a space to the eye: a plain one is one byte.
                if TerminalText.width(of: character) != 1 || character == "\u{2800}" { character = " " }
                let background = color(rawBackground)
                // A space shows no foreground: leaving it out keeps runs long and pairs few.
                let foreground = character == " " ? background : color(rawForeground)
                cells.append(PreviewCell(character: character, foreground: foreground, background: background))
            }
        }
        return cells
    }

    private static func color(_ value: Int32) -> PreviewColor {
        (0...255).contains(value) ? .index(UInt8(value)) : .terminalDefault
    }
}
