import Foundation
@testable import InboxCore
import InboxTesting
import Testing

/// The fast reader must give the events `JSONDecoder` gives, or give up.
private func decodedAlike(_ body: Data, sourceLocation: SourceLocation = #_sourceLocation) {
    let decoder = WebhookDecoder()
    let combined = Result { () throws(WebhookDecoder.Failure) in try decoder.decode(body, receivedAt: 1_764_500_000) }
    let reference = Result { () throws(WebhookDecoder.Failure) in
        try decoder.decodeWithFoundation(body, receivedAt: 1_764_500_000)
    }
    switch (combined, reference) {
    case (.success(let fast), .success(let slow)):
        #expect(fast == slow, "\(String(decoding: body, as: UTF8.self))", sourceLocation: sourceLocation)
    case (.failure(let fast), .failure(let slow)):
        #expect(fast.description == slow.description, sourceLocation: sourceLocation)
    default:
        Issue.record("fast and reference decoding disagree on \(String(decoding: body, as: UTF8.self))",
                     sourceLocation: sourceLocation)
    }
}

private func envelope(_ value: String, field: String = #""field":"messages""#) -> Data {
    Data(#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"#
        .utf8) + Data(value.utf8) + Data(#"},\#(field)}]}]}"#.utf8)
}

private let contact = #""contacts":[{"profile":{"name":"Kofi Mensah","username":"kofi.m"},"wa_id":"233201234567","user_id":"GH.2233445566778899","parent_user_id":"GH.1"}]"#

/// Bodies the fast reader reads itself (the shapes Meta sends most).
private let accepted: [(String, Data)] = [
    ("text", envelope(contact + #","messages":[{"from":"233201234567","from_user_id":"GH.2233445566778899","id":"wamid.fast.1","timestamp":"1764400000","type":"text","text":{"body":"Hello"}}]"#)),
    ("escapes", envelope(contact + #","messages":[{"from":"233201234567","id":"wamid.fast.2","timestamp":"1764400001","type":"text","text":{"body":"caf\u00e9 \ud83c\udf70 see https:\/\/example.com\/menu \"quoted\" \\ back\nline\ttab"}}]"#)),
    ("raw UTF-8", envelope(contact + #","messages":[{"from":"233201234567","id":"wamid.fast.3","timestamp":"1764400002","type":"text","text":{"body":"Amélie 壊れた箱 👍"}}]"#)),
    ("reply and forward", envelope(contact + #","messages":[{"context":{"from":"15550783881","id":"wamid.out.9","forwarded":true,"frequently_forwarded":false},"from":"233201234567","id":"wamid.fast.4","timestamp":"1764400003","type":"text","text":{"body":"this one"},"group_id":"g-1"}]"#)),
    ("statuses", envelope(contact + #","statuses":[{"id":"wamid.out.1","status":"delivered","timestamp":"1764400004","recipient_id":"233201234567","recipient_user_id":"GH.2233445566778899","conversation":{"id":"c","expiration_timestamp":"1764490000","origin":{"type":"service"}},"pricing":{"billable":true,"pricing_model":"PMP","category":"service"}},{"id":"wamid.out.2","status":"sent","timestamp":"1764400005","biz_opaque_callback_data":"local-7"}]"#)),
    ("several messages, nulls, unknown members", envelope(#""contacts":[{"profile":{"name":null},"wa_id":"1","identity_key_hash":"x"}],"messages":[{"from":"1","id":"wamid.fast.5","timestamp":"1764400006","type":"request_welcome"},{"from":"1","id":"wamid.fast.6","timestamp":null,"type":"text","text":{"body":"x","extra":[1,-2.5e3,true,false,null,{"a":[]}]}}],"statuses":null"#)),
    ("field after value, whitespace", Data("""
        {
          "object": "whatsapp_business_account",
          "entry": [ { "id": "1", "changes": [ { "value": { "metadata": { "phone_number_id": "9" },
            "messages": [ { "from": "44", "id": "wamid.fast.7", "timestamp": "1764400007", "type": "text", "text": { "body": "hi" } } ] },
            "field": "messages" } ] } ]
        }
        """.utf8)),
    ("other field", envelope(#""statuses":[]"#, field: #""field":"security""#)),
    ("call status", envelope(contact + #","statuses":[{"id":"wacid.2","status":"RINGING","type":"call","timestamp":"1","recipient_id":"233201234567"}]"#)),
    ("other object", Data(#"{"object":"page","entry":[]}"#.utf8)),
    ("username only", envelope(#""contacts":[{"profile":{"name":"Ana","username":"ana.p"},"user_id":"BR.77"}],"messages":[{"from_user_id":"BR.77","id":"wamid.fast.8","timestamp":"1764400008","type":"text","text":{"body":"oi"}}]"#)),
]

/// Bodies it leaves to JSONDecoder; the combined decoder must still match the reference.
private let leftToFoundation: [(String, Data)] = [
    ("account update", envelope(#""statuses":[]"#, field: #""field":"account_update""#)),
    ("text without its text", envelope(contact + #","messages":[{"from":"233201234567","id":"wamid.slow.9","timestamp":"1764400000","type":"text"}]"#)),
    ("calls", envelope(#""calls":[{"id":"wacid.1","from":"233201234567","event":"connect","timestamp":"1"}]"#, field: #""field":"calls""#)),
    ("image", envelope(contact + #","messages":[{"from":"233201234567","id":"wamid.slow.1","timestamp":"1764400000","type":"image","image":{"id":"1","mime_type":"image/jpeg"}}]"#)),
    ("number timestamp", envelope(contact + #","messages":[{"from":"233201234567","id":"wamid.slow.2","timestamp":1764400000,"type":"text","text":{"body":"x"}}]"#)),
    ("duplicate key", envelope(#""messages":[{"from":"1","id":"wamid.slow.3","id":"wamid.slow.4","timestamp":"1","type":"text","text":{"body":"x"}}]"#)),
    ("missing id", envelope(#""messages":[{"from":"1","timestamp":"1","type":"text","text":{"body":"x"}}]"#)),
    ("status errors", envelope(#""statuses":[{"id":"wamid.out.3","status":"failed","timestamp":"1","errors":[{"code":131047,"title":"Re-engagement message"}]}]"#)),
    ("value errors", envelope(#""errors":[{"code":131000,"title":"Something went wrong"}]"#)),
    ("unknown type", envelope(#""messages":[{"from":"1","id":"wamid.slow.5","timestamp":"1","type":"hologram","hologram":{"x":1}}]"#)),
    ("string where an object is expected", envelope(#""messages":["oops"]"#)),
    ("number where a string is expected", envelope(#""messages":[{"from":15550001,"id":"wamid.slow.6","timestamp":"1","type":"text","text":{"body":"x"}}]"#)),
    ("lone surrogate", envelope(#""messages":[{"from":"1","id":"wamid.slow.7","timestamp":"1","type":"text","text":{"body":"\ud83c"}}]"#)),
    ("invalid UTF-8", envelope(#""messages":[{"from":"1","id":"wamid.slow.8","timestamp":"1","type":"text","text":{"body":""#) + Data([0xC3, 0x28]) + Data(#""}}]"#.utf8)),
    ("trailing comma", Data(#"{"object":"whatsapp_business_account","entry":[],}"#.utf8)),
    ("not an object", Data(#"["whatsapp_business_account"]"#.utf8)),
    ("truncated", Data(#"{"object":"whatsapp_business_account","entry":[{"changes":"#.utf8)),
    ("empty", Data()),
    ("trailing garbage", Data(#"{"object":"page"} x"#.utf8)),
]

@Suite struct FastReaderTests {
    @Test(arguments: accepted.map(\.0))
    func readsCommonShapesItself(name: String) throws {
        let body = try #require(accepted.first { $0.0 == name }?.1)
        #expect(WireFastReader.envelope(from: body) != nil, "the fast reader gave up on \(name)")
        decodedAlike(body)
    }

    @Test(arguments: leftToFoundation.map(\.0))
    func leavesTheRestToJSONDecoder(name: String) throws {
        let body = try #require(leftToFoundation.first { $0.0 == name }?.1)
        #expect(WireFastReader.envelope(from: body) == nil, "the fast reader should have given up on \(name)")
        decodedAlike(body)
    }

    /// Every fixture decodes as JSONDecoder decodes it, whichever path reads it.
    @Test func fixturesDecodeAlike() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixtures.directory.path)
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
        #expect(names.count > 10)
        for name in names.sorted() {
            decodedAlike(try Fixtures.data(name))
        }
    }

    /// Cut anywhere, a body never makes the fast reader answer what JSONDecoder would not.
    @Test func everyPrefixDecodesAlike() throws {
        let body = accepted[1].1
        for length in stride(from: 0, to: body.count, by: 7) {
            decodedAlike(body.prefix(length))
        }
    }
}
