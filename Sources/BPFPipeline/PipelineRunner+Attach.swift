import BPFLoader
import Logging

extension PipelineRunner {
    /// The attach step of a run, inside the pin step (after staging, before the swap), logged like
    /// the other steps: one record per link, with its target and id.
    func attach(_ loaded: [(entry: ObjectEntry, object: BPFObject)], _ step: AttachStep, staging: String) throws {
        try timed(.attach, nil, nil) {
            try step.attach(loaded, staging: staging) { link in
                self.logger.info(link.updatedInPlace ? "link updated in place" : "attached", metadata: [
                    "step": "attach", "object": "\(link.object)", "program": "\(link.program)",
                    "instance": .stringConvertible(link.instance), "target": "\(link.target)",
                    "link_id": .stringConvertible(link.linkID), "prog_id": .stringConvertible(link.programID),
                    "pin": "\(link.pin)",
                ])
            }
        }
    }

    /// Removes the staging folders runs killed mid-way left behind, saying so in the log.
    func removeKilledRuns() {
        for found in KilledRuns.clean(deploymentDirectory, includingOwnPID: true) {
            var meta: Logger.Metadata = ["step": "pin", "staging": "\(found.path)", "pid": .stringConvertible(found.pid),
                                         "links": .stringConvertible(found.links)]
            if !found.restored.isEmpty { meta["restored"] = "\(found.restored.joined(separator: ","))" }
            logger.warning("removed the staging folder of a killed run", metadata: meta)
        }
    }
}
