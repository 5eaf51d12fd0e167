import Metrics

/// The names of the Cloud API side's metrics (swift-metrics API; the program picks the backend).
public enum CloudMetricNames {
    /// Send attempts by `outcome` and Cloud API error `code` (`none` without one).
    public static let sends = "wabox_sends_total"
    /// Media download attempts by `outcome`.
    public static let mediaDownloads = "wabox_media_downloads_total"
}

extension OutboxSender.Outcome {
    /// The `outcome` label of `wabox_sends_total`.
    var metricLabel: String {
        switch self {
        case .accepted: "accepted"
        case .retryScheduled: "retry"
        case .failed: "failed"
        case .windowClosed: "window_closed"
        case .halted: "halted"
        case .uncertain: "uncertain"
        }
    }
}

extension MediaDownloader.Outcome {
    /// The `outcome` label of `wabox_media_downloads_total`.
    var metricLabel: String {
        switch self {
        case .ready: "ready"
        case .retryScheduled: "retry"
        case .failed: "failed"
        case .expired: "expired"
        }
    }
}

enum CloudMetrics {
    /// Counts one send attempt. Not on a hot path: a counter is looked up per attempt.
    static func countSend(_ outcome: OutboxSender.Outcome, code: Int?) {
        Counter(label: CloudMetricNames.sends,
                dimensions: [("outcome", outcome.metricLabel), ("code", code.map(String.init) ?? "none")]).increment()
    }

    static func countDownload(_ outcome: MediaDownloader.Outcome) {
        Counter(label: CloudMetricNames.mediaDownloads, dimensions: [("outcome", outcome.metricLabel)]).increment()
    }
}
