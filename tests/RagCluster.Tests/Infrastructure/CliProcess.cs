using System.Diagnostics;

namespace RagCluster.Tests.Infrastructure;

/// <summary>Runs the shipped `ragcluster` CLI as a process: exit code, stdout and stderr.</summary>
public static class CliProcess
{
    public static (int Exit, string Out, string Err) Run(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ragcluster.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "ragcluster did not finish");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
