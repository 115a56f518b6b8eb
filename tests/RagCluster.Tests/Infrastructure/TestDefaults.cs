using System.Runtime.CompilerServices;

namespace RagCluster.Tests.Infrastructure;

/// <summary>Settings every host a test starts inherits unless the test says otherwise.</summary>
internal static class TestDefaults
{
    /// <summary>
    /// A silo embeds with the built-in real model unless told otherwise. Tests name their model: the random-weight
    /// one where only cost or plumbing matters (RepoPaths.TestModel), a real one where meaning is the point
    /// (MeaningTests, BuiltInModelVectorTests). Everything else, processes these tests start included (they inherit
    /// the environment, and a command-line setting overrides it), runs BM25 only, as it did before the model was built in.
    /// </summary>
    [ModuleInitializer]
    internal static void DenseRetrievalOffUnlessAsked() => Environment.SetEnvironmentVariable("Embedding__Model", "none");
}
