using System.Diagnostics;

namespace RagCluster.Tests.Infrastructure;

/// <summary>Runs the shipped `ragcluster` CLI as a process: exit code, stdout and stderr.</summary>
public static class CliProcess
{
    /// <summary>
    /// The CLI from its own build output (same configuration as the tests): a console app resolves some
    /// Microsoft.Extensions packages from its own folder, which the test folder does not carry.
    /// </summary>
    public static string CliDll { get; } = Path.Combine(RepoPaths.Root, "src", "Cli", "bin",
        Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd('/'))!), "net10.0", "ragcluster.dll");

    public static (int Exit, string Out, string Err) Run(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "ragcluster did not finish");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
