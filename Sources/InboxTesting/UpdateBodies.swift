import Foundation

/// Webhook bodies for the changes beyond messages and statuses (edits, deletions, calls,
/// account and template updates, marketing preferences), written from CLOUD_API.md's
/// shapes, for scenarios the fixtures do not cover: out of order, replayed, end to end.
public enum UpdateBodies {
    public static let phoneNumberID = "106540352242922"
    public static let displayNumber = "15550783881"
    /// The WhatsApp Business Account (the entries' id).
    public static let account = "102290129340398"

    /// `value` as a JSON string literal, escaped as JSON requires.
    public static func quoted(_ value: String?) -> String {
        guard let value else { return "null" }
        let data = (try? JSONEncoder().encode(value)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private static func change(_ field: String, value: String, time: Int64? = nil) -> Data {
        let timeField = time.map { #","time":\#($0)"# } ?? ""
        return Data(#"""
            {"object":"whatsapp_business_account","entry":[{"id":"\#(account)"\#(timeField),"changes":[{"field":"\#(field)","value":\#(value)}]}]}
            """#.utf8)
    }

    private static func messages(_ messages: String, from waID: String, name: String) -> Data {
        change("messages", value: """
            {"messaging_product":"whatsapp","metadata":{"display_phone_number":"\(displayNumber)","phone_number_id":"\(phoneNumberID)"},
             "contacts":[{"profile":{"name":\(quoted(name))},"wa_id":"\(waID)"}],"messages":[\(messages)]}
            """)
    }

    public static func text(id: String, from waID: String, name: String = "Amélie Laurent", timestamp: Int64,
                            body: String) -> Data {
        messages(#"{"from":"\#(waID)","id":"\#(id)","timestamp":"\#(timestamp)","type":"text","text":{"body":\#(quoted(body))}}"#,
                 from: waID, name: name)
    }

    public static func image(id: String, from waID: String, name: String = "Amélie Laurent", timestamp: Int64,
                             caption: String) -> Data {
        messages(#"""
            {"from":"\#(waID)","id":"\#(id)","timestamp":"\#(timestamp)","type":"image",
             "image":{"id":"5550001","mime_type":"image/jpeg","sha256":"aGFzaA==","caption":\#(quoted(caption))}}
            """#, from: waID, name: name)
    }

    /// A customer's edit of `original`: its new text.
    public static func edit(id: String, of original: String, from waID: String, name: String = "Amélie Laurent",
                            timestamp: Int64, body: String) -> Data {
        messages(#"""
            {"from":"\#(waID)","id":"\#(id)","timestamp":"\#(timestamp)","type":"edit",
             "edit":{"original_message_id":"\#(original)","message":{"type":"text","text":{"body":\#(quoted(body))}}}}
            """#, from: waID, name: name)
    }

    /// A customer's edit of an image's caption.
    public static func captionEdit(id: String, of original: String, from waID: String, timestamp: Int64,
                                   caption: String) -> Data {
        messages(#"""
            {"from":"\#(waID)","id":"\#(id)","timestamp":"\#(timestamp)","type":"edit",
             "edit":{"original_message_id":"\#(original)","message":{"type":"image",
               "image":{"id":"5550001","mime_type":"image/jpeg","sha256":"aGFzaA==","caption":\#(quoted(caption))}}}}
            """#, from: waID, name: "Amélie Laurent")
    }

    /// A customer's deletion of `original`.
    public static func revoke(id: String, of original: String, from waID: String, name: String = "Amélie Laurent",
                              timestamp: Int64) -> Data {
        messages(#"""
            {"from":"\#(waID)","id":"\#(id)","timestamp":"\#(timestamp)","type":"revoke","revoke":{"original_message_id":"\#(original)"}}
            """#, from: waID, name: name)
    }

    /// An interactive message that came without its `interactive` object.
    public static func interactiveWithoutPayload(id: String, from waID: String, name: String, timestamp: Int64) -> Data {
        messages(#"{"from":"\#(waID)","id":"\#(id)","timestamp":"\#(timestamp)","type":"interactive"}"#, from: waID, name: name)
    }

    /// One event of a call the customer placed (`connect` or `terminate`).
    public static func call(id: String, from waID: String, name: String, event: String, timestamp: Int64,
                            status: String? = nil, duration: Int64? = nil) -> Data {
        var extra = status.map { #","status":"\#($0)""# } ?? ""
        if let duration {
            extra += #","start_time":"\#(timestamp - duration)","end_time":"\#(timestamp)","duration":\#(duration)"#
        }
        return change("calls", value: """
            {"messaging_product":"whatsapp","metadata":{"display_phone_number":"\(displayNumber)","phone_number_id":"\(phoneNumberID)"},
             "contacts":[{"profile":{"name":\(quoted(name))},"wa_id":"\(waID)"}],
             "calls":[{"id":"\(id)","to":"\(displayNumber)","from":"\(waID)","event":"\(event)","timestamp":"\(timestamp)",
                       "direction":"USER_INITIATED"\(extra)}]}
            """)
    }

    /// An `account_update`: `restrictions` for `ACCOUNT_RESTRICTION`, `banState` for `DISABLED_UPDATE`.
    public static func accountUpdate(event: String, restrictions: [(type: String, expiration: Int64?)] = [],
                                     banState: String? = nil, time: Int64) -> Data {
        var value = #"{"phone_number":"\#(displayNumber)","event":"\#(event)""#
        if event == "ACCOUNT_RESTRICTION" {
            let info = restrictions.map { restriction in
                #"{"restriction_type":"\#(restriction.type)""# + (restriction.expiration.map { #","expiration":\#($0)"# } ?? "") + "}"
            }
            value += #","restriction_info":[\#(info.joined(separator: ","))]"#
        }
        if let banState { value += #","ban_info":{"waba_ban_state":["\#(banState)"],"waba_ban_date":"2026-12-01"}"# }
        return change("account_update", value: value + "}", time: time)
    }

    public static func templateStatus(name: String, language: String, event: String, reason: String? = nil,
                                      category: String? = nil, time: Int64) -> Data {
        change("message_template_status_update", value: """
            {"event":"\(event)","message_template_id":\(name.utf8.reduce(7) { ($0 &* 31 &+ Int($1)) & 0xFFFFFF }),"message_template_name":\(quoted(name)),
             "message_template_language":"\(language)","reason":\(quoted(reason ?? "NONE")),
             "message_template_category":\(quoted(category))}
            """, time: time)
    }

    public static func templateQuality(name: String, language: String, score: String, time: Int64) -> Data {
        change("message_template_quality_update", value: """
            {"previous_quality_score":"GREEN","new_quality_score":"\(score)","message_template_name":\(quoted(name)),
             "message_template_language":"\(language)"}
            """, time: time)
    }

    /// A marketing preference: `stop` or `resume`.
    public static func preference(waID: String, value: String, timestamp: Int64) -> Data {
        change("user_preferences", value: """
            {"messaging_product":"whatsapp","metadata":{"display_phone_number":"\(displayNumber)","phone_number_id":"\(phoneNumberID)"},
             "user_preferences":[{"wa_id":"\(waID)","detail":"User requested","category":"marketing_messages",
                                  "value":"\(value)","timestamp":\(timestamp)}]}
            """)
    }
}
