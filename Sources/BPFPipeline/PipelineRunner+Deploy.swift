import BPFLoader
import Logging

extension PipelineRunner {
    /// `run` as CI steps and fleet engines expect it: idempotent. The file is planned first
    /// (nothing touches the kernel); when the deployment already matches the plan (every pin and
    /// link there, every tag current, every object's pinned fingerprint the file's) nothing is
    /// loaded or replaced and the report says `changed: false`. `force` redeploys anyway.
    /// The last log record carries `changed` either way.
    public func deploy(force: Bool = false) throws -> RunResult {
        // A killed run's staging folder would make the deployment look changed; it goes first.
        removeKilledRuns()
        if !force {
            var quiet = self
            quiet.logger.logLevel = .error
            let plan = try quiet.execute(.plan)
            if try Deployment(spec: spec).status(plan: plan).matches {
                var report = plan.report
                report.mode = Mode.run.rawValue
                report.changed = false
                logger.info("unchanged: \(deploymentDirectory) already matches the file",
                            metadata: ["step": "pin", "changed": .stringConvertible(false)])
                return RunResult(mode: .run, objects: plan.objects, report: report, fingerprints: plan.fingerprints)
            }
        }
        var result = try execute(.run)
        result.report.changed = true
        logger.info("deployed \(deploymentDirectory)", metadata: ["step": "pin", "changed": .stringConvertible(true)])
        return result
    }
}
