using System.Text.RegularExpressions;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests;

/// <summary>
/// The layout docs/development.md promises, kept by a test so it does not drift: files of one concern, one grain
/// interface a contract file, one options class a file named after it, and routing in one place.
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class CodeLayoutTests
{
    private static IEnumerable<string> Sources(string folder) =>
        Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, folder), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"));

    private static string Relative(string path) => Path.GetRelativePath(RepoPaths.Root, path);

    [Fact]
    public void No_source_file_passes_450_lines()
    {
        var tooLong = Sources("src").Select(f => (File: Relative(f), Lines: File.ReadAllLines(f).Length)).Where(x => x.Lines > 450).ToList();
        Assert.True(tooLong.Count == 0, "split by concern (partials, as IndexShardGrain.Writer.cs): " + string.Join(", ", tooLong));
    }

    [Fact]
    public void Each_grain_interface_has_a_file_of_its_own_in_its_concepts_folder()
    {
        var wrong = new List<string>();
        foreach (var file in Sources("src/Grains.Interfaces"))
        {
            var interfaces = GrainInterface().Matches(File.ReadAllText(file)).Select(m => m.Groups[1].Value).ToList();
            if (interfaces.Count > 1 || interfaces.Count == 1 && Path.GetFileNameWithoutExtension(file) != interfaces[0])
                wrong.Add($"{Relative(file)}: {string.Join(", ", interfaces)}");
            if (interfaces.Count == 1 && Path.GetDirectoryName(Relative(file)) == Path.Combine("src", "Grains.Interfaces"))
                wrong.Add($"{Relative(file)}: not in a concept's folder");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void Each_options_class_has_a_file_named_after_it()
    {
        var wrong = Sources("src")
            .SelectMany(f => OptionsClass().Matches(File.ReadAllText(f)).Select(m => (File: f, Class: m.Groups[1].Value)))
            .Where(x => Path.GetFileNameWithoutExtension(x.File) != x.Class)
            .Select(x => $"{x.Class} in {Relative(x.File)}").ToList();
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void Chunks_are_routed_to_shards_in_one_place()
    {
        var routing = Sources("src").Where(f => File.ReadAllText(f).Contains("StableHash.Of(chunkId)")).Select(Relative).ToList();
        Assert.Equal([Path.Combine("src", "Grains", "Indexing", "ShardRouting.cs")], routing);
    }

    [Fact]
    public void No_adapter_builds_an_access_trim()
    {
        // The wall is applied below the adapters (ICollectionReadsGrain, the query plan, the document grain): an HTTP
        // endpoint, an MCP tool or the CLI that built a trim of its own would be a read path that could forget it.
        var adapters = new[] { "src/Api", "src/Cli", "src/Client", "src/VectorData" }.SelectMany(Sources)
            .Where(f => AccessTrim().IsMatch(File.ReadAllText(f))).Select(Relative).ToList();
        Assert.True(adapters.Count == 0, "pass the caller's ReadAccess to the operation instead: " + string.Join(", ", adapters));
    }

    [Fact]
    public void No_adapter_speaks_a_collections_internal_protocols()
    {
        // ICollectionGrain is the face; the registry's and the restore's protocols are for the grains and workflows below.
        var adapters = new[] { "src/Api", "src/Cli", "src/Client", "src/VectorData" }.SelectMany(Sources)
            .Where(f => File.ReadAllText(f) is var text && (text.Contains("ICollectionRegistryGrain") || text.Contains("ICollectionRestoreGrain"))).Select(Relative).ToList();
        Assert.True(adapters.Count == 0, "call an operation below the adapters instead: " + string.Join(", ", adapters));
    }

    [Fact]
    public void No_adapter_reads_documents_around_the_door()
    {
        // The raw reads below the door return hidden documents too: an adapter that called one would read around the trim.
        var adapters = new[] { "src/Api", "src/Cli" }.SelectMany(Sources)
            .Where(f => RawRead().IsMatch(File.ReadAllText(f))).Select(Relative).ToList();
        Assert.True(adapters.Count == 0, "read through ICollectionReadsGrain (or the query plan) instead: " + string.Join(", ", adapters));
    }

    /// <summary>
    /// The adapter files that still name a grain implementation's namespace, each with why (issue 83's count: 27 Api
    /// files at its middle, 14 and the CLI's 4 later, none in the Api and these 2 of the CLI now). A new one fails; one that stops naming them must
    /// leave the list, so it only shrinks.
    /// </summary>
    private static readonly string[] StillNamingGrainInternals =
    [
        // Client-side checks of a backup archive before its upload and after its download (CollectionArchive.Verify).
        "src/Cli/Backends.cs",
        // A measurement, not an operation: it scores the server's own follow-up fusion (FollowUps) against its parts.
        "src/Cli/Commands.FollowUpEval.cs",
    ];

    [Fact]
    public void No_new_adapter_file_names_a_grain_implementation()
    {
        // Adapters call the operations through the contracts (RagCluster.Grains.Interfaces); the grains' own namespaces are below the line.
        var naming = new[] { "src/Api", "src/Cli", "src/Client", "src/VectorData" }.SelectMany(Sources)
            .Where(f => GrainImplementation().IsMatch(File.ReadAllText(f))).Select(f => Relative(f).Replace('\\', '/')).Order().ToList();
        var added = naming.Except(StillNamingGrainInternals).ToList();
        var gone = StillNamingGrainInternals.Except(naming).ToList();
        Assert.True(added.Count == 0, "call an operation through its contract instead: " + string.Join(", ", added));
        Assert.True(gone.Count == 0, "no longer names the grains' internals, take it off StillNamingGrainInternals: " + string.Join(", ", gone));
    }

    [Fact]
    public void The_cli_calls_the_api_not_the_grains()
    {
        // Its embedded mode hosts the API silo in process (ApiHost) and calls it like any cluster: a grain call from
        // the CLI would be an operation without the API's rules (alias, trim, validation, limits, audit).
        var calls = Sources("src/Cli").Where(f => GrainCall().IsMatch(File.ReadAllText(f))).Select(Relative).ToList();
        Assert.True(calls.Count == 0, "call the API through the backend instead: " + string.Join(", ", calls));
    }

    [Fact]
    public void The_contracts_hold_no_filter_language()
    {
        // Filters cross grain calls as parsed terms; parsing, evaluating and the access wall live in src/Metadata and
        // the grains, so a contract change never drags the language with it.
        var contracts = Sources("src/Grains.Interfaces")
            .Where(f => File.ReadLines(f).Any(l => !l.TrimStart().StartsWith("//") && FilterLanguage().IsMatch(l))).Select(Relative).ToList();
        Assert.True(contracts.Count == 0, "move the parsing or evaluation to src/Metadata or the grains: " + string.Join(", ", contracts));
    }

    [GeneratedRegex(@"\bFilterParser\b|\bTagRules\b|\.Matches\(|\bDocumentAccess\b")]
    private static partial Regex FilterLanguage();

    [GeneratedRegex(@"\.GetStatus\(\)|\.Documents\(|\.MatchingDocuments\(|\bStatusesAsync\(|\.ListDocuments\(|\.DocumentPagesAsync\(")]
    private static partial Regex RawRead();

    [GeneratedRegex(@"\bDocumentAccess\b|\bDocumentWrites\b|\.Sees\(")]
    private static partial Regex AccessTrim();

    // A grain implementation's namespace (RagCluster.Grains.X, X not Interfaces), named in full or from inside RagCluster.
    [GeneratedRegex(@"(?<![.\w])(RagCluster\.)?Grains\.(?!Interfaces\b)[A-Z]\w*\b")]
    private static partial Regex GrainImplementation();

    [GeneratedRegex(@"\bGetGrain<|\bIGrainFactory\b|\bIClusterClient\b")]
    private static partial Regex GrainCall();

    [GeneratedRegex(@"^public interface (I\w+Grain)\b", RegexOptions.Multiline)]
    private static partial Regex GrainInterface();

    [GeneratedRegex(@"^public sealed class (\w+Options)\b", RegexOptions.Multiline)]
    private static partial Regex OptionsClass();
}
