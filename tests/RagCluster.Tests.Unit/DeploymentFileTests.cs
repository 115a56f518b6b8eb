using System.Text.RegularExpressions;
using RagCluster.Grains.Embedding;
using RagCluster.Hosting;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests;

/// <summary>No Docker engine runs here, so the Dockerfile is checked for drift against the code it packages.</summary>
[Trait("Category", "Unit")]
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
    public void Dockerfile_packages_existing_projects_with_onnxruntime_from_nuget_and_a_gpu_target()
    {
        foreach (Match m in Regex.Matches(Dockerfile, @"dotnet publish (src/\w+)"))
            Assert.True(Directory.Exists(Path.Combine(RepoPaths.Root, m.Groups[1].Value)), $"{m.Groups[1].Value} does not exist");
        foreach (Match m in Regex.Matches(Dockerfile, @"for p in ([\w ]+); do dotnet publish src/\$p"))
            foreach (var project in m.Groups[1].Value.Split(' '))
                Assert.True(Directory.Exists(Path.Combine(RepoPaths.Root, "src", project)), $"src/{project} does not exist");
        // The native library travels inside the NuGet package: nothing fetched beside it, no path to point at.
        Assert.DoesNotContain("npm", Dockerfile);
        Assert.DoesNotContain("OnnxRuntimePath", Dockerfile);
        // The GPU target builds against the GPU package (the switch Grains' project file reads) and asks for CUDA.
        Assert.Matches(@"(?m)^FROM \S+ AS gpu$", Dockerfile);
        Assert.Contains("-p:OnnxRuntimeGpu=true", Dockerfile);
        Assert.Contains("Embedding__ExecutionProvider=cuda", Dockerfile);
        var grains = File.ReadAllText(Path.Combine(RepoPaths.Root, "src", "Grains", "RagCluster.Grains.csproj"));
        Assert.Contains("'$(OnnxRuntimeGpu)' == 'true'", grains);
        Assert.Contains("Microsoft.ML.OnnxRuntime.Gpu.Linux", grains);
        // The default image (the last stage) is the CPU one.
        Assert.EndsWith("AS runtime", Regex.Matches(Dockerfile, @"(?m)^FROM .*$")[^1].Value);
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
