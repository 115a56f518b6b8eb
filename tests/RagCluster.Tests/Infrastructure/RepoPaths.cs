using System.Diagnostics;

namespace RagCluster.Tests.Infrastructure;

/// <summary>Where the repository and the files scripts/setup.sh prepared (.tools/) are.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RagCluster.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root (RagCluster.sln) above " + AppContext.BaseDirectory);
    }

    public static string Tools => Path.Combine(Root, ".tools");

    /// <summary>The random-weight MiniLM-architecture model (scripts/make_test_model.py, run by setup.sh).</summary>
    public static string TestModel => Require(Path.Combine(Tools, "models", "minilm-random"), "model.onnx", file: false);

    public static string TokenizerDir =>
        Environment.GetEnvironmentVariable("RAGCLUSTER_TOKENIZER_DIR") is { Length: > 0 } d ? d : Path.Combine(Root, "..", "shared", "models", "all-MiniLM-L6-v2");

    private static string Require(string dir, string fileName, bool file)
    {
        var path = Path.Combine(dir, fileName);
        if (!File.Exists(path)) throw new InvalidOperationException($"{path} is missing: run scripts/setup.sh");
        return file ? path : dir;
    }

    /// <summary>Runs a tool, feeding stdin, and returns stdout; fails the test with stderr on a non-zero exit.</summary>
    public static string Run(string fileName, IEnumerable<string> args, string? stdin = null, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(fileName) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{fileName} exited {p.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }
}
