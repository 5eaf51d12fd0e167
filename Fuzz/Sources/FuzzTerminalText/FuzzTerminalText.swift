import CFuzzDriver
import InboxCore

/// libFuzzer's entry point: any bytes as text from a stranger. Sanitising must leave no
/// control character, C1 control or bidi override; wrapping and truncating the result
/// must respect the cells they were given.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTerminalText(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    // Two cells at least: a wide glyph cannot fit in one, and no view is that narrow.
    let cells = Int(data[0] % 79) + 2
    let text = String(decoding: UnsafeBufferPointer(start: data + 1, count: size - 1), as: UTF8.self)
    func check(_ clean: String, allowingNewlines: Bool) {
        for scalar in clean.unicodeScalars {
            let value = scalar.value
            if allowingNewlines, value == 0x0a { continue }
            if value < 0x20 || (0x7f...0x9f).contains(value) || (0x202a...0x202e).contains(value)
                || (0x2066...0x2069).contains(value) {
                fatalError("sanitised text kept U+\(String(value, radix: 16)) from \(Array(text.unicodeScalars.map(\.value)))")
            }
        }
    }
    check(TerminalText.sanitize(text), allowingNewlines: false)
    check(TerminalText.sanitizeKeepingLines(text), allowingNewlines: true)
    let clean = TerminalText.sanitize(text)
    let cut = TerminalText.truncate(clean, to: cells)
    if TerminalText.width(of: cut) > cells { fatalError("truncate to \(cells) gave \(TerminalText.width(of: cut)) cells") }
    for line in TerminalText.wrap(clean, to: cells) where TerminalText.width(of: line) > cells {
        fatalError("wrap to \(cells) gave a line of \(TerminalText.width(of: line)) cells")
    }
    let safe = SafeFileName.make(from: text)
    if safe.isEmpty || safe.contains("/") || safe == ".." || safe.hasPrefix(".") || safe.utf8.count > SafeFileName.maximumBytes {
        fatalError("unsafe file name \(Array(safe.unicodeScalars.map(\.value)))")
    }
    return 0
}

/// The entry point SwiftPM links as `main` in a debug build; hands over to libFuzzer.
@_cdecl("FuzzTerminalText_main")
public func fuzzTerminalTextMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return 0 }
        return fuzzTerminalText(data, size)
    }
}
