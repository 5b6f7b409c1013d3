import BPFLoader

/// "did you mean" for misspelt keys and stage names.
enum Suggestion {
    /// The candidate closest to `word`, when it is close enough to be a likely typo.
    static func nearest(to word: String, in candidates: [String]) -> String? {
        let lower = word.lowercased()
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            // Transposed neighbours count as one edit: the commonest typo.
            let d = SectionDefinitions.editDistance(Array(lower.unicodeScalars), Array(candidate.unicodeScalars))
            if d < (best?.distance ?? .max) { best = (candidate, d) }
        }
        guard let best else { return nil }
        // Short words need a closer match, or every two-letter key would "mean" some other one.
        let allowed = best.candidate.count <= 3 ? 1 : best.candidate.count <= 6 ? 2 : 3
        return best.distance <= allowed ? best.candidate : nil
    }
}
