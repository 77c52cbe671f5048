%% ring OUT STEPS DELAY_MS: Erlang/OTP under a checkpoint. 64 processes in a
%% ring (spread by the VM over its scheduler threads, +S 4 on the command
%% line) pass a token around each step, each hashing it on the way; 8
%% workers hash beside them and answer by message; an ETS table keeps the
%% results and a timer (erlang:send_after) paces the steps; a gen_tcp
%% listener on 127.0.0.1 (an ephemeral port) and a connection to it, both
%% ends in this VM (its poll thread, epoll), echo a line each step. One
%% line per step: the step and the results in a fixed order, the same on
%% every run.
-module(ring).
-export([main/1]).

-define(RING, 64).

main([Out, Steps, Delay]) ->
    {ok, F} = file:open(Out, [write]),
    T = ets:new(results, [set, public]),
    First = ring(?RING, self()),
    {ok, L} = gen_tcp:listen(0, [binary, {ip, {127, 0, 0, 1}}, {packet, line}, {active, false}, {reuseaddr, true}, {nodelay, true}]),
    {ok, Port} = inet:port(L),
    Self = self(),
    spawn_link(fun() -> {ok, S} = gen_tcp:accept(L), Self ! accepted, echo(S) end),
    {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {packet, line}, {active, false}, {nodelay, true}]),
    receive accepted -> ok end,
    put(conn, C),
    Total = loop(F, T, First, 0, list_to_integer(Steps), list_to_integer(Delay), <<>>),
    ok = file:write(F, io_lib:format("done ~s ~b~n", [hex(Total), ets:info(T, size)])),
    ok = file:close(F),
    First ! stop,
    halt(0).

echo(S) ->
    case gen_tcp:recv(S, 0) of
        {ok, Line} -> ok = gen_tcp:send(S, [hex(erlang:md5(Line)), $\n]), echo(S);
        {error, closed} -> ok
    end.

ring(0, Next) -> Next;
ring(N, Next) -> ring(N - 1, spawn_link(fun() -> node(N, Next) end)).

node(N, Next) ->
    receive
        stop -> Next ! stop;
        {token, Step, H} ->
            Next ! {token, Step, md5_chain(H, N, 200)},
            node(N, Next)
    end.

md5_chain(H, _N, 0) -> H;
md5_chain(H, N, K) -> md5_chain(erlang:md5([H, integer_to_list(N)]), N, K - 1).

work(Parent, Step, I) ->
    H = md5_chain(list_to_binary(io_lib:format("~b/~b", [Step, I])), I, 20000),
    Parent ! {result, I, H}.

loop(_F, _T, _First, Steps, Steps, _Delay, Total) -> Total;
loop(F, T, First, Step, Steps, Delay, Total) ->
    Self = self(),
    [spawn(fun() -> work(Self, Step, I) end) || I <- lists:seq(1, 8)],
    First ! {token, Step, <<Step:32>>},
    Tok = receive {token, Step, H} -> H after 60000 -> exit(no_token) end,
    Rs = [receive {result, I, R} -> R after 60000 -> exit(no_result) end || I <- lists:seq(1, 8)],
    [ets:insert(T, {{Step, I}, R}) || {I, R} <- lists:zip(lists:seq(1, 8), Rs)],
    C = get(conn),
    ok = gen_tcp:send(C, io_lib:format("~b ~s~n", [Step, hex(Tok)])),
    {ok, Echo} = gen_tcp:recv(C, 0, 60000),
    Line = io_lib:format("~b ~s ~s ~s", [Step, hex(Tok), hex(erlang:md5(Rs)), Echo]),
    ok = file:write(F, Line),
    erlang:send_after(Delay, Self, tick),
    receive tick -> ok end,
    loop(F, T, First, Step + 1, Steps, Delay, erlang:md5([Total, Line])).

hex(B) -> [io_lib:format("~2.16.0b", [X]) || <<X>> <= B].
