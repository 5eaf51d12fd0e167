import CloudAPI
import InboxCore

extension Diagnosis {
    /// `wabox doctor`'s Graph API line: `GET /{phone-number-id}` with the token, so that an
    /// expired token shows up here rather than on the first reply. `graphURLIsSet`: the
    /// URL came from a setting, and messages name it.
    public static func checkGraphAPI(token: String?, phoneNumberID: String?, graphURL: String, graphVersion: String,
                                     graphURLIsSet: Bool, client: DiagnosticClient, _ report: inout DoctorReport) async {
        guard let token else {
            report.warn("Graph API", "not checked: no access token (see sending above)")
            return
        }
        guard let phoneNumberID, phoneNumberID.allSatisfy(\.isNumber) else {
            report.warn("Graph API", "not checked: no usable phone_number_id (see sending above)")
            return
        }
        let graph = GraphCloudClient.Configuration(graphURL: graphURL, graphVersion: graphVersion,
                                                   accessToken: token, timeout: .seconds(10))
        let base = graph.graphURL
        let url = "\(base)/\(graphVersion)/\(phoneNumberID)"
        let whereTo = graphURLIsSet ? "\(base) (WABOX_GRAPH_URL/graph_url)" : base
        let tokenShown = Redaction.shown(token)
        let number: PhoneNumberInfo
        do {
            number = try await client.phoneNumber(PhoneNumberID(phoneNumberID), graph: graph)
        } catch {
            switch error {
            case .api(let error):
                report.fail("Graph API", explain(error, token: tokenShown, phoneNumberID: phoneNumberID))
            case .http(let status, let snippet):
                report.fail("Graph API", "GET \(url) answered HTTP \(status) without a Graph API error (\(snippet)): check that \(whereTo) is the Graph API and graph_version \(graphVersion) exists")
            case .network(let failure):
                report.fail("Graph API", explain(failure, base: whereTo, url: url))
            case .invalidResponse, .tooLarge:
                report.fail("Graph API", "GET \(url) answered but not with a phone number: check that \(whereTo) is the Graph API")
            }
            return
        }
        guard number.verifiedName != nil || number.displayPhoneNumber != nil else {
            report.fail("Graph API", "GET \(url) answered but not with a phone number: check that \(whereTo) is the Graph API")
            return
        }
        let display = TerminalText.sanitize(number.displayPhoneNumber ?? "?")
        let name = TerminalText.sanitize(number.verifiedName ?? "no verified name")
        let quality = TerminalText.sanitize(number.qualityRating ?? "UNKNOWN")
        let summary = "\(whereTo) \(graphVersion): token \(tokenShown) valid; \(phoneNumberID) is \(display) “\(name)”, quality \(quality)"
        if ["YELLOW", "RED"].contains(quality.uppercased()) {
            report.warn("Graph API", "\(summary): customers have been blocking or reporting this number's messages; see WhatsApp Manager → Insights before sending more")
        } else {
            report.pass("Graph API", summary)
        }
    }
}
