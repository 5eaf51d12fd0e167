import Foundation
import InboxCore

/// The status webhooks owed for one accepted message.
struct StatusPlan: Sendable {
    var wamid: String
    var phoneNumberID: String
    var body: SendMessageBody
    /// Unix seconds of `sent`; each later status is one second later.
    var sentAt: Int64
}

extension FakeCloudAPI {
    /// Posts one signed webhook per status, in the planned order, waiting `delay` between
    /// them. Timestamps follow the real order whatever the arrival order.
    func postStatuses(_ plan: StatusPlan, _ webhooks: StatusWebhooks) async {
        var statuses = webhooks.statuses.enumerated().map { (offset: Int64($0.offset), status: $0.element) }
        // A reaction comes back with `sent` only (CLOUD_API.md).
        if plan.body.type == "reaction" { statuses = statuses.filter { $0.status == .sent } }
        switch webhooks.order {
        case .inOrder: break
        case .reversed: statuses.reverse()
        case .shuffled: statuses.shuffle()
        }
        let poster = WebhookPoster(url: webhooks.url, appSecret: webhooks.appSecret, userAgent: "wabox-fake-cloud-api")
        for (index, entry) in statuses.enumerated() {
            if index > 0 { try? await Task.sleep(for: webhooks.delay) }
            let body: Data
            do {
                body = try CloudJSON.encode(statusWebhook(plan, status: entry.status, at: plan.sentAt + entry.offset))
            } catch {
                state.withLock { $0.webhookErrors.append("\(entry.status): \(error)") }
                continue
            }
            let answer = await poster.post(body)
            if answer.status == 200 {
                state.withLock { $0.postedWebhooks += 1 }
                onStatusPosted(plan, entry.status)
            } else if let status = answer.status {
                state.withLock { $0.webhookErrors.append("HTTP \(status) for \(entry.status)") }
            } else {
                state.withLock { $0.webhookErrors.append("\(entry.status): \(answer.text)") }
            }
        }
    }

    private func onStatusPosted(_ plan: StatusPlan, _ status: DeliveryStatus) {
        let recipient = plan.body.to ?? plan.body.recipient ?? ""
        let (observers, isLatest) = state.withLock { ($0.statusObservers, $0.latestAccepted[recipient] == plan.wamid) }
        let posted = PostedStatus(wamid: plan.wamid, recipient: recipient, status: status, isLatestToRecipient: isLatest)
        for observer in observers { observer(posted) }
    }

    /// The status webhook of `plan`'s message, from the one builder `wabox simulate --type
    /// status` uses too. A customer addressed by `to` is named by the user id a simulated
    /// customer with that number has.
    func statusWebhook(_ plan: StatusPlan, status: DeliveryStatus, at timestamp: Int64) -> WebhookBody {
        let waID = plan.body.to
        let userID = plan.body.recipient ?? waID.map(SimulatedCustomer.userID(forWaID:))
        return WebhookBuilder(phoneNumberID: plan.phoneNumberID, displayPhoneNumber: phoneNumberDisplay, wabaID: wabaID)
            .statusBody(status, of: plan.wamid, waID: waID, userID: userID, timestamp: timestamp,
                        callbackData: plan.body.callbackData)
    }
}

extension WebhookBuilder {
    /// A status webhook for an outbound message to `customer` (`failed` carries `errorCode`,
    /// default 131026), in the shape the fake Cloud API posts.
    public func status(_ status: DeliveryStatus, of id: String, to customer: SimulatedCustomer,
                       timestamp: Int64 = Int64(Date().timeIntervalSince1970), errorCode: Int? = nil,
                       callbackData: String? = nil) -> Data {
        let body = statusBody(status, of: id, waID: customer.waID, userID: customer.userID, timestamp: timestamp,
                              errorCode: errorCode, callbackData: callbackData)
        // Only strings, numbers and optionals: encoding cannot fail.
        return (try? CloudJSON.encode(body)) ?? Data()
    }

    /// A status webhook in the current shape: a `contacts[]` array naming the recipient
    /// (`wa_id`, `user_id`), `recipient_user_id` beside `recipient_id`, the callback data
    /// echoed, conversation and pricing on `sent`, the error on `failed`.
    func statusBody(_ status: DeliveryStatus, of id: String, waID: String?, userID: String?, timestamp: Int64,
                    errorCode: Int? = nil, callbackData: String?) -> WebhookBody {
        let sent = status == .sent
        var errors: [WebhookBody.Status.Failure]?
        if status == .failed {
            let code = errorCode ?? 131026
            errors = [.init(code: code, title: code == 131047 ? "Re-engagement message" : "Message undeliverable",
                            message: "Message failed to send", error_data: .init(details: "Simulated failure"))]
        }
        let entry = WebhookBody.Status(
            id: id, status: status.rawValue, timestamp: String(timestamp), recipient_id: waID,
            recipient_user_id: userID, biz_opaque_callback_data: callbackData,
            conversation: sent ? .init(id: "CONV" + id.suffix(8), origin: .init(type: "service")) : nil,
            pricing: sent ? .init(billable: false, pricing_model: "PMP", category: "service") : nil,
            errors: errors)
        let value = WebhookBody.Value(
            metadata: .init(display_phone_number: displayPhoneNumber, phone_number_id: phoneNumberID),
            contacts: [.init(wa_id: waID, user_id: userID)],
            statuses: [entry])
        return WebhookBody(entry: [.init(id: wabaID, changes: [.init(value: value)])])
    }
}

/// The webhook envelope for statuses, written field by field as the Cloud API names them.
struct WebhookBody: Encodable {
    var object = "whatsapp_business_account"
    var entry: [Entry]

    struct Entry: Encodable {
        var id: String
        var changes: [Change]
    }

    struct Change: Encodable {
        var field = "messages"
        var value: Value
    }

    struct Value: Encodable {
        var messaging_product = "whatsapp"
        var metadata: Metadata
        var contacts: [Contact]
        var statuses: [Status]
    }

    struct Metadata: Encodable {
        var display_phone_number: String
        var phone_number_id: String
    }

    struct Contact: Encodable {
        var wa_id: String?
        var user_id: String?
    }

    struct Status: Encodable {
        struct Conversation: Encodable {
            struct Origin: Encodable { var type: String }
            var id: String
            var origin: Origin
        }

        struct Pricing: Encodable {
            var billable: Bool
            var pricing_model: String
            var category: String
        }

        struct Failure: Encodable {
            struct ErrorData: Encodable { var details: String }
            var code: Int
            var title: String
            var message: String
            var error_data: ErrorData
        }

        var id: String
        var status: String
        var timestamp: String
        var recipient_id: String?
        var recipient_user_id: String?
        var biz_opaque_callback_data: String?
        var conversation: Conversation?
        var pricing: Pricing?
        var errors: [Failure]?
    }
}
