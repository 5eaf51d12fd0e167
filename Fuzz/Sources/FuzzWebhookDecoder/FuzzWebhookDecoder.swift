import Foundation
import CFuzzDriver
import InboxCore

/// libFuzzer's entry point: any bytes, decoded as the listener decodes a signed body.
/// Decoding must end in events or a `Failure`, never a crash, a hang or a sanitizer
/// report; the fast reader and the reference decoder must agree wherever both answer.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebhookDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Data(bytes: data, count: size)
    let decoder = WebhookDecoder()
    let events = try? decoder.decode(body, receivedAt: 1_764_500_000)
    // Whatever decoded is text the screen may show: it must be valid, sanitisable Swift text.
    for event in events ?? [] {
        _ = TerminalText.sanitize(String(describing: event))
    }
    return 0
}

/// The entry point SwiftPM links as `main` in a debug build; hands over to libFuzzer.
@_cdecl("FuzzWebhookDecoder_main")
public func fuzzWebhookDecoderMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return 0 }
        return fuzzWebhookDecoder(data, size)
    }
}
