import Foundation

/// A message with up to three quick-reply buttons: the customer answers with one tap, and
/// their answer (`button_reply`) comes back with the message it answers as its context.
public struct ReplyButtons: Sendable, Hashable, Codable {
    public var body: String
    public var titles: [String]

    /// The Cloud API's limits for reply buttons (CLOUD_API.md).
    public static let maxButtons = 3
    public static let maxTitleLength = 20
    public static let maxBodyLength = 1024

    public init(body: String, titles: [String]) {
        self.body = body
        self.titles = titles
    }

    /// The id each button is sent with; a `button_reply` names it back.
    public static func buttonID(_ index: Int) -> String { "wabox-\(index + 1)" }

    /// Characters as the limits count them: Unicode scalars, so that a composed emoji
    /// never counts for less than WhatsApp may count it.
    public static func length(_ text: String) -> Int { text.unicodeScalars.count }

    /// Why `title` cannot be the next button after `titles`, in words with the limit;
    /// nil when it can.
    public static func problem(title: String, after titles: [String]) -> String? {
        let length = length(title)
        if title.trimmingCharacters(in: .whitespaces).isEmpty { return "a button needs a title" }
        if length > maxTitleLength {
            return "button title \"\(title)\" is \(length) characters: WhatsApp takes at most \(maxTitleLength)"
        }
        if titles.contains(title) { return "there is already a button \"\(title)\": each title must differ" }
        if titles.count >= maxButtons { return "WhatsApp takes at most \(maxButtons) reply buttons" }
        return nil
    }

    /// Why `body` cannot carry buttons, in words with the limit; nil when it can.
    public static func problem(body: String) -> String? {
        let length = length(body)
        if body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return "type the message first, then Ctrl-B adds reply buttons to it"
        }
        if length > maxBodyLength {
            return "a message with buttons is \(length) characters: WhatsApp takes at most \(maxBodyLength)"
        }
        return nil
    }

    /// Why these buttons cannot be sent; nil when they can.
    public var problem: String? {
        if let problem = Self.problem(body: body) { return problem }
        if titles.isEmpty { return "a message with buttons needs at least one button" }
        for (index, title) in titles.enumerated() {
            if let problem = Self.problem(title: title, after: Array(titles[..<index])) { return problem }
        }
        return nil
    }
}

extension SendMessageBody {
    /// `{"type":"button","body":{"text":…},"action":{"buttons":[{"type":"reply","reply":{"id","title"}}]}}`.
    public struct Interactive: Sendable, Hashable, Codable {
        public struct Body: Sendable, Hashable, Codable { public var text: String }
        public struct Action: Sendable, Hashable, Codable { public var buttons: [Button] }
        public struct Button: Sendable, Hashable, Codable {
            public struct Reply: Sendable, Hashable, Codable {
                public var id: String
                public var title: String
            }
            public var type = "reply"
            public var reply: Reply
        }

        public var type = "button"
        public var body: Body
        public var action: Action

        public init(_ buttons: ReplyButtons) {
            body = Body(text: buttons.body)
            action = Action(buttons: buttons.titles.enumerated().map {
                Button(reply: .init(id: ReplyButtons.buttonID($0.offset), title: $0.element))
            })
        }
    }
}
