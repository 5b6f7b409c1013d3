extension MapCompatibility {
    /// How the map pinned at `path` differs from `def` (empty when a run would reuse it), or nil
    /// when nothing, or no map, is pinned there.
    public static func pinnedDifferences(at path: String, against def: MapDefinition) -> [String]? {
        guard case .success(let fd) = BPFCommand.get(pinned: path), case .success(let info) = BPFCommand.mapInfo(fd) else { return nil }
        return differences(existing: info, against: def)
    }
}
