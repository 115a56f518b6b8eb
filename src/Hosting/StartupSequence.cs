using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Embedding.BuiltIn;
using RagCluster.Grains.Placement;

namespace RagCluster.Hosting;

/// <summary>
/// The steps a silo process's start shares, whichever host runs it (the silo process, the API silo, the CLI's embedded
/// API): the settings checked, the model loaded, each step logged as a "Start-up:" line (<see cref="StartupSteps"/>).
/// </summary>
public static class StartupSequence
{
    /// <summary>The role a lone silo takes so that it embeds, whatever the environment says.</summary>
    public const string LoneSiloRoles = SiloRoles.Embedding;

    /// <summary>Logs the host's build and checks the settings; the logger the next steps log to.</summary>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">A setting is wrong; the message names it.</exception>
    public static ILogger Begin(IServiceProvider services)
    {
        var start = services.GetRequiredService<ILoggerFactory>().CreateLogger("RagCluster.Start");
        start.StartStep("runtime, configuration and host built", TimeSpan.FromSeconds(StartupSteps.SinceProcessStart));
        StartupErrors.ValidateSettings(services);
        return start;
    }

    /// <summary>Logs that <paramref name="step"/> ended now, having taken <paramref name="took"/>.</summary>
    public static void Step(this ILogger start, string step, TimeSpan took) => start.StartStep(step, took);

    /// <summary>
    /// Loads the model (an explicit Embedding:ExecutionProvider=cuda that cannot run throws here); the embedding status
    /// line. On a thread of its own when the caller overlaps it with the host's start: a pool thread held for seconds
    /// can starve the grains' scheduler on 2 cores.
    /// </summary>
    public static Task<string> LoadModelAsync(IServiceProvider services, ILogger start) => Task.Factory.StartNew(() =>
    {
        var loading = System.Diagnostics.Stopwatch.StartNew();
        var status = services.GetRequiredService<EmbeddingService>().Status;
        start.StartStep("model loaded", loading.Elapsed);
        return status;
    }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>
    /// The settings that pick <paramref name="model"/>: a built-in model's name or "none" as Embedding:Model, anything
    /// else as a model folder (Embedding:ModelDirectory).
    /// </summary>
    public static Dictionary<string, string?> ModelSettings(string model)
    {
        var named = model == "none" || BuiltInModel.Find(model) is not null;
        return new() { ["Embedding:Model"] = named ? model : "none", ["Embedding:ModelDirectory"] = named ? "" : model };
    }
}
