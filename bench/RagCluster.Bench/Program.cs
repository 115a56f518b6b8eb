using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Interfaces;
using RagCluster.Runtime;
using RagCluster.Runtime.Activation;
using RagCluster.Runtime.Hosting;
using RagCluster.Runtime.Storage;

// Runtime benchmark: grain-call throughput and latency for local, client->silo and silo->silo calls on
// 1 and 2 silos over loopback, and memory per idle activation. Usage: RagCluster.Bench [seconds-per-case]
var seconds = args.Length > 0 && double.TryParse(args[0], out var s) ? s : 5;
var concurrency = 64;
var payload = new byte[64];

var services = new ServiceCollection().AddLogging(b => b.SetMinimumLevel(LogLevel.Error)).BuildServiceProvider();
var loggers = services.GetRequiredService<ILoggerFactory>();
var store = new InMemoryClusterStore();

Silo NewSilo() => new(new SiloOptions { ClusterId = "bench", Storage = "memory", SiloPort = 0 },
    new GrainTypeRegistry().AddAssembly(typeof(PingGrain).Assembly), services, loggers, store);

Console.WriteLine($"# RagCluster runtime benchmark — {Environment.ProcessorCount} cores, .NET {Environment.Version}, {seconds}s per case, {concurrency} concurrent callers, {payload.Length}-byte payload");
Console.WriteLine();
Console.WriteLine("| case | calls/s | p50 µs | p99 µs | sequential p50 µs | sequential p99 µs |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|");

var a = NewSilo();
await a.StartAsync();
var keysOnA = Enumerable.Range(0, 10_000).Select(i => $"k{i}").ToArray();
await Run("local call (1 silo, in-silo caller)", a, keysOnA);
using (var client = new ClusterClient(new ClusterClientOptions { Gateways = [a.Address] }))
    await Run("client -> silo (1 silo, h2c)", client, keysOnA);

var b = NewSilo();
await b.StartAsync();
while (a.ViewVersion != b.ViewVersion) await Task.Delay(50);
await Task.Delay(500); // let the rebalance after the join settle
var keysOnB = keysOnA.Where(k => OwnerIs(b, k)).Take(1000).ToArray();
await Run("silo -> silo (2 silos, h2c)", a, keysOnB);
using (var client = new ClusterClient(new ClusterClientOptions { Gateways = [a.Address] }))
    await Run("client -> gateway -> owner silo (2 silos)", client, keysOnB);
await b.StopAsync();
await a.StopAsync();

// Memory per idle activation: activate N grains locally and compare the managed heap before and after.
var m = NewSilo();
await m.StartAsync();
var warm = m.GetGrain<IPingGrain>("warm");
await warm.Ping([]);
const int activations = 20_000;
var before = Heap();
for (var i = 0; i < activations; i += 500)
    await Task.WhenAll(Enumerable.Range(i, 500).Select(j => m.GetGrain<IPingGrain>($"idle-{j}").Ping([])));
var after = Heap();
Console.WriteLine();
Console.WriteLine($"memory per idle activation: {(after - before) / (double)(m.ActivationCount - 1):0} bytes (managed heap, {m.ActivationCount - 1} activations, grain directory entries included)");
await m.StopAsync();
return;

static long Heap()
{
    for (var i = 0; i < 3; i++) GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    GC.WaitForPendingFinalizers();
    return GC.GetTotalMemory(forceFullCollection: true);
}

static bool OwnerIs(Silo silo, string key)
{
    var view = new RagCluster.Runtime.Placement.MembershipView(silo.ViewVersion, silo.Members);
    return view.OwnerOf(new GrainId(typeof(IPingGrain).FullName!, key))!.SiloId == silo.SiloId;
}

async Task Run(string name, IGrainFactory grains, string[] keys)
{
    // Warm up: activate every key and JIT the paths.
    foreach (var chunk in keys.Chunk(500)) await Task.WhenAll(chunk.Select(k => grains.GetGrain<IPingGrain>(k).Ping(payload)));

    var sequential = new List<double>();
    var seqClock = Stopwatch.StartNew();
    for (var i = 0; seqClock.Elapsed.TotalSeconds < Math.Min(2, seconds / 2); i++)
    {
        var t = Stopwatch.GetTimestamp();
        await grains.GetGrain<IPingGrain>(keys[i % keys.Length]).Ping(payload);
        sequential.Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
    }

    var latencies = new List<double>[concurrency];
    var stop = Stopwatch.StartNew();
    var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
    {
        var mine = latencies[w] = new List<double>(100_000);
        for (var i = w; stop.Elapsed.TotalSeconds < seconds; i += concurrency)
        {
            var t = Stopwatch.GetTimestamp();
            await grains.GetGrain<IPingGrain>(keys[i % keys.Length]).Ping(payload);
            mine.Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
        }
    })).ToArray();
    await Task.WhenAll(workers);
    var all = latencies.SelectMany(l => l).Order().ToArray();
    var seq = sequential.Order().ToArray();
    Console.WriteLine($"| {name} | {all.Length / stop.Elapsed.TotalSeconds:N0} | {P(all, 0.50):0} | {P(all, 0.99):0} | {P(seq, 0.50):0} | {P(seq, 0.99):0} |");
}

static double P(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
