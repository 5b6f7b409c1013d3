import BPFLoader

// The spec layer's errors say which exit class they belong to, like `LoaderError`, so the CLI
// maps every error through `ExitClass.of` alone.

/// A pipeline file that cannot be used as written is invalid input.
extension PipelineError: ExitClassified {
    public var exitClass: ExitClass { .invalidInput }
}

/// Another run holding the deployment is the environment, not this pipeline.
extension DeploymentLock.Timeout: ExitClassified {
    public var exitClass: ExitClass { .environment }
}
