using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.TestingHost;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Documents;
using RagCluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RagCluster.Tests.Rag;

/// <summary>
/// A collection registers its sweep reminder before it acknowledges a document, so a silo's reminder service that
/// cannot load its range refuses ingest. Orleans retries a failed first load only at its list refresh (5 minutes by
/// default): one CI run's kill test saw a collection refuse every document for 5 minutes that way.
/// </summary>
public sealed class ReminderStartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_reminder_table_failing_its_first_reads_holds_ingest_back_for_seconds_not_minutes()
    {
        var started = Stopwatch.StartNew();
        await using var cluster = await RagTestCluster.StartAsync(1, settings: new() { ["Test:FailedReminderReadRounds"] = "2" });
        var table = (StartingReminderTable)((InProcessSiloHandle)cluster.Cluster.Primary).SiloHost.Services.GetRequiredService<IReminderTable>();
        var doc = cluster.Grains.GetGrain<IDocumentGrain>("kb/d1");
        var refusals = new List<string>();
        while (true)
        {
            try
            {
                await doc.Ingest(new IngestRequest("txt", Encoding.UTF8.GetBytes("a document accepted once reminders load"), [], null));
                break;
            }
            catch (StorageUnavailableException e)
            {
                // Refused as a 503 is: ours, retryable, and saying what is not ready.
                refusals.Add(e.Message);
                Assert.True(started.Elapsed < TimeSpan.FromSeconds(60), $"still refused after {started.Elapsed.TotalSeconds:F0} s: {e.Message}");
                await Task.Delay(200);
            }
        }
        output.WriteLine($"accepted {started.Elapsed.TotalSeconds:F1} s after the silo started, after {refusals.Count} refusal(s): {string.Join(" | ", refusals.Distinct())}");
        Assert.Equal(2, table.FailedRounds); // the reads did fail: what is tested is the recovery
        Assert.All(refusals, m => Assert.StartsWith("reminder service unavailable: ", m));
        await Poll.UntilAsync(async () => (await doc.GetStatus()).Status == DocumentStatuses.Indexed);
    }
}
