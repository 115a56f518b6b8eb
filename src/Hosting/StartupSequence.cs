using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
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
    /// Loads the model when the settings say so (<see cref="EmbeddingOptions.LoadsAtStart"/>: Embedding:LoadAtStart, or an
    /// explicit Embedding:ExecutionProvider=cuda, which throws here if it cannot run) or its files are missing (the error
    /// shows at start); otherwise it loads with the first text to embed. Returns the embedding status line. The load runs
    /// on a thread of its own (<see cref="EmbeddingModel.Loaded"/>).
    /// </summary>
    public static async Task<string> LoadModelAsync(IServiceProvider services, ILogger start)
    {
        var model = services.GetRequiredService<EmbeddingModel>();
        if (!services.GetRequiredService<IOptions<EmbeddingOptions>>().Value.LoadsAtStart && !model.FilesMissing)
        {
            start.StartStep("model left to its first use", TimeSpan.Zero);
            return model.NotLoadedStatus;
        }
        var loading = System.Diagnostics.Stopwatch.StartNew();
        var status = (await model.Loaded).Status;
        start.StartStep("model loaded", loading.Elapsed);
        return status;
    }

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
