using Xunit.Abstractions;

namespace RagCluster.Tests.Faults;

/// <summary>
/// The fault suite (see <see cref="FaultSuite"/>): the reduced size in every test run; the full size with
/// RAGCLUSTER_FAULT_SUITE_SIZE=full, which bench/run_fault_suite.sh sets (and RAGCLUSTER_FAULT_SUITE_REPORT, a file the
/// results table is written to).
/// </summary>
public sealed class FaultSuiteTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)] // every shard with a follower on another silo (issue 46): writes during a failover acknowledged as durably
    public async Task Acknowledged_documents_survive_silo_kills_and_database_and_redis_restarts(int replicationFactor)
    {
        var size = Environment.GetEnvironmentVariable("RAGCLUSTER_FAULT_SUITE_SIZE") == "full" ? FaultSuiteSize.Full : FaultSuiteSize.Reduced;
        if (Environment.GetEnvironmentVariable("RAGCLUSTER_FAULT_SUITE_COPIES") is { Length: > 0 } copies && copies != replicationFactor.ToString())
            return; // bench/run_fault_suite.sh runs one factor at a time
        var started = DateTime.UtcNow;
        var suite = new FaultSuite(size, line =>
        {
            output.WriteLine(line);
            Console.WriteLine(line); // also live on the console (bench/run_fault_suite.sh shows the run as it goes)
        }, replicationFactor);
        try
        {
            await suite.RunAsync();
        }
        finally
        {
            var table = suite.Markdown();
            output.WriteLine(table);
            if (Environment.GetEnvironmentVariable("RAGCLUSTER_FAULT_SUITE_REPORT") is { Length: > 0 } report)
                await File.WriteAllTextAsync(report, $"{size.Name} size ({size.BulkDocuments} documents in bulk, {size.PhaseDocuments} a phase), {replicationFactor} copies a shard, " +
                                                     $"{(DateTime.UtcNow - started).TotalMinutes:F1} min\n\n{table}");
        }
        var violations = suite.Results.SelectMany(r => r.Violations().Select(v => $"{r.Phase}: {v}")).ToList();
        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }
}
