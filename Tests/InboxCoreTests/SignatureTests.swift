import Foundation
import InboxCore
import InboxTesting
import Testing

@Suite struct SignatureTests {
    let signature = WebhookSignature(appSecret: Fixtures.appSecret)

    @Test func verifiesTheRawBytesAndNotAReserialisation() throws {
        let raw = try Fixtures.data("escaped")
        let text = String(decoding: raw, as: UTF8.self)
        // The fixture holds the escapes exactly as Meta writes them.
        #expect(text.contains(#"\u00e9"#))
        #expect(text.contains(#"\ud83d\ude00"#))
        #expect(text.contains(#"https:\/\/example.com"#))

        let header = signature.header(for: raw)
        #expect(signature.isValid(header: header, body: raw))

        // Parse and serialise again, as the classic `JSON.stringify(req.body)` bug does.
        let reserialised = try JSONSerialization.data(
            withJSONObject: JSONSerialization.jsonObject(with: raw), options: [.withoutEscapingSlashes])
        #expect(reserialised != raw)
        #expect(!signature.isValid(header: header, body: reserialised))
    }

    @Test func knownVector() {
        // `printf '{}' | openssl dgst -sha256 -hmac secret`
        #expect(WebhookSignature(appSecret: "secret").header(for: Data("{}".utf8))
            == "sha256=77325902caca812dc259733aacd046b73817372c777b8d95b402647474516e13")
    }

    @Test func rejectsMissingTruncatedAndForeignSignatures() {
        let body = Data(#"{"object":"whatsapp_business_account"}"#.utf8)
        let good = signature.header(for: body)
        #expect(signature.isValid(header: good, body: body))
        #expect(signature.isValid(header: good.uppercased().replacingOccurrences(of: "SHA256=", with: "sha256="), body: body))
        #expect(!signature.isValid(header: nil, body: body))
        #expect(!signature.isValid(header: "", body: body))
        #expect(!signature.isValid(header: String(good.dropLast()), body: body))
        #expect(!signature.isValid(header: good.replacingOccurrences(of: "sha256=", with: "sha1="), body: body))
        #expect(!signature.isValid(header: "sha256=" + String(repeating: "zz", count: 32), body: body))
        #expect(!WebhookSignature(appSecret: "another secret").isValid(header: good, body: body))
        var tampered = body
        tampered[tampered.startIndex + 2] ^= 0x01
        #expect(!signature.isValid(header: good, body: tampered))
    }
}
