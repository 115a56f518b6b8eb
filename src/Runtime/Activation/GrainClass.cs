using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using RagCluster.Runtime.Invocation;
using RagCluster.Runtime.Storage;

namespace RagCluster.Runtime.Activation;

/// <summary>A grain implementation class and how to build and call it.</summary>
internal sealed class GrainClass
{
    private readonly ConstructorInfo _ctor;

    public GrainClass(Type implementation, GrainInterface grainInterface)
    {
        Implementation = implementation;
        Interface = grainInterface;
        IsReentrant = implementation.GetCustomAttribute<ReentrantAttribute>() is not null;
        if (implementation.GetCustomAttribute<StatelessWorkerAttribute>() is { } worker)
        {
            IsStatelessWorker = true;
            MaxLocalWorkers = worker.MaxLocalWorkers > 0 ? worker.MaxLocalWorkers : Environment.ProcessorCount;
        }
        var ctors = implementation.GetConstructors();
        if (ctors.Length == 0) throw new NotSupportedException($"grain class {implementation} has no public constructor");
        _ctor = ctors.OrderByDescending(c => c.GetParameters().Length).First();
        foreach (var p in _ctor.GetParameters())
            if (p.GetCustomAttribute<PersistentStateAttribute>() is not null &&
                !(p.ParameterType.IsGenericType && p.ParameterType.GetGenericTypeDefinition() == typeof(IPersistentState<>)))
                throw new NotSupportedException($"{implementation.Name}: [PersistentState] parameter '{p.Name}' must be IPersistentState<T>");
    }

    public Type Implementation { get; }
    public GrainInterface Interface { get; }
    public bool IsReentrant { get; }
    public bool IsStatelessWorker { get; }
    public int MaxLocalWorkers { get; }

    /// <summary>Builds an instance: [PersistentState] parameters get state bound to this grain, the rest come from DI.</summary>
    public Grain Create(IServiceProvider services, IGrainStorage storage, GrainId id, List<Func<CancellationToken, Task>> stateLoaders)
    {
        var args = _ctor.GetParameters().Select(p =>
        {
            if (p.GetCustomAttribute<PersistentStateAttribute>() is { } attr)
            {
                var stateType = typeof(PersistentState<>).MakeGenericType(p.ParameterType.GetGenericArguments()[0]);
                var state = (IStateLoader)Activator.CreateInstance(stateType, storage, id, attr.StateName)!;
                stateLoaders.Add(state.ReadStateAsync);
                return state;
            }
            if (p.GetCustomAttribute<PersistentLogAttribute>() is { } log)
            {
                if (p.ParameterType != typeof(IPersistentLog))
                    throw new NotSupportedException($"{Implementation.Name}: [PersistentLog] parameter '{p.Name}' must be IPersistentLog");
                if (storage is not IGrainLogStorage logs)
                    throw new NotSupportedException($"{Implementation.Name} needs log storage, which this silo's store does not offer");
                return new PersistentLog(logs, id, log.LogName);
            }
            return services.GetService(p.ParameterType)
                   ?? throw new InvalidOperationException($"{Implementation.Name} needs a {p.ParameterType.Name} but none is registered in the silo's services");
        }).ToArray();
        try
        {
            return (Grain)_ctor.Invoke(args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }
}

/// <summary>Maps grain interface names (as they travel on the wire) to the classes that implement them.</summary>
public sealed class GrainTypeRegistry
{
    private readonly Dictionary<string, GrainClass> _byInterface = new(StringComparer.Ordinal);

    internal bool TryGet(string interfaceName, out GrainClass grainClass) => _byInterface.TryGetValue(interfaceName, out grainClass!);

    public IEnumerable<string> InterfaceNames => _byInterface.Keys;

    /// <summary>Registers every concrete <see cref="Grain"/> subclass in the assembly.</summary>
    public GrainTypeRegistry AddAssembly(Assembly assembly)
    {
        foreach (var type in assembly.GetTypes().Where(t => t is { IsClass: true, IsAbstract: false } && typeof(Grain).IsAssignableFrom(t)))
            AddGrainClass(type);
        return this;
    }

    public GrainTypeRegistry AddGrainClass(Type implementation)
    {
        var interfaces = implementation.GetInterfaces()
            .Where(i => typeof(IGrain).IsAssignableFrom(i) && i != typeof(IGrain) && i != typeof(IGrainWithStringKey))
            .ToList();
        if (interfaces.Count == 0) throw new NotSupportedException($"grain class {implementation} implements no grain interface");
        foreach (var i in interfaces)
        {
            var grainClass = new GrainClass(implementation, GrainInterface.For(i));
            if (_byInterface.TryGetValue(grainClass.Interface.Name, out var existing) && existing.Implementation != implementation)
                throw new NotSupportedException($"{i.Name} is implemented by both {existing.Implementation.Name} and {implementation.Name}; one class per grain interface");
            _byInterface[grainClass.Interface.Name] = grainClass;
        }
        return this;
    }
}
