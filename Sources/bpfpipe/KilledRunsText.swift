import BPFPipeline

/// How `status` and `down` say they found (and removed) a killed run's staging folder.
enum KilledRunsText {
    static func line(_ k: KilledRuns.Found) -> String {
        var s = "removed \(k.path), left by killed run (pid \(k.pid)): \(k.links) link(s) detached"
        if !k.restored.isEmpty { s += ", previous \(k.restored.joined(separator: ", ")) put back" }
        return s
    }
}
