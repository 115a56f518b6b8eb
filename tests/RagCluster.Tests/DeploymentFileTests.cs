using System.Text.RegularExpressions;
using RagCluster.Grains.Embedding;
using RagCluster.Hosting;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests;

/// <summary>No Docker engine runs here, so the Dockerfile is checked for drift against the code it packages.</summary>
public sealed class DeploymentFileTests
{
    private static readonly string Dockerfile = File.ReadAllText(Path.Combine(RepoPaths.Root, "Dockerfile"));

    [Fact]
    public void Dockerfile_runs_as_non_root_from_a_multi_stage_build()
    {
        Assert.True(Regex.Matches(Dockerfile, @"^FROM ", RegexOptions.Multiline).Count >= 2);
        var user = Regex.Match(Dockerfile, @"^USER (\S+)", RegexOptions.Multiline);
        Assert.True(user.Success, "no USER line");
        Assert.DoesNotMatch(@"^(0|root)(:|$)", user.Groups[1].Value);
        Assert.Matches(@"CMD \[""dotnet"", ""RagCluster.Api.dll""\]", Dockerfile);
    }

    [Fact]
    public void Dockerfile_packages_existing_projects_and_the_same_onnxruntime_as_setup()
    {
        foreach (Match m in Regex.Matches(Dockerfile, @"dotnet publish (\S+)"))
            Assert.True(Directory.Exists(Path.Combine(RepoPaths.Root, m.Groups[1].Value)), $"{m.Groups[1].Value} does not exist");
        var setup = File.ReadAllText(Path.Combine(RepoPaths.Root, "scripts", "setup.sh"));
        var sha = Regex.Match(setup, @"ort_sha=([0-9a-f]{64})").Groups[1].Value;
        Assert.Contains(sha, Dockerfile);
        Assert.Contains("onnxruntime-node@1.30.0", Dockerfile);
    }

    [Fact]
    public void Environment_keys_in_the_Dockerfile_bind_to_real_options()
    {
        var known = new Dictionary<string, Type> { ["Silo"] = typeof(SiloOptions), ["Embedding"] = typeof(EmbeddingOptions) };
        foreach (Match m in Regex.Matches(Dockerfile, @"\b(\w+)__(\w+)="))
        {
            var (section, key) = (m.Groups[1].Value, m.Groups[2].Value);
            if (section == "Storage") { Assert.Equal("Path", key); continue; } // read by src/Api/Program.cs
            Assert.True(known.TryGetValue(section, out var type), $"unknown section {section}");
            Assert.NotNull(type.GetProperty(key));
        }
    }
}
