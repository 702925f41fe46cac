#!/usr/bin/env node
// Interop check with MQTT.js in MQTT 5.0 mode, run by tests/10_interop_clients.rs.
//
// usage: node v5.js HOST PORT PREFIX
//
// 1. Request/response properties pass through: a QoS 1 PUBLISH with Response Topic,
//    Correlation Data, Content Type, User Properties and a Message Expiry Interval reaches
//    a subscriber with all of them and its Subscription Identifier.
// 2. Server-to-client Topic Aliases: the subscriber allows 4; MQTT.js checks every alias
//    the broker sends (it ends the connection on an unknown or out-of-range one) and
//    gives us the resolved topic; at least one delivery must come by alias alone.
// 3. A shared subscription $share/g/... with two MQTT.js members: each message once.
// Exit status 0 on success; on failure the reason is printed and the status is 1. Every
// wait is bounded.
"use strict";

const mqtt = require("mqtt");

const [host, port, prefix] = process.argv.slice(2);
const TIMEOUT_MS = 10000;
const url = `mqtt://${host}:${port}`;

function fail(message) {
  console.log(`FAIL: ${message}`);
  process.exit(1);
}

setTimeout(() => fail("did not finish in time"), 3 * TIMEOUT_MS).unref();

function connect(clientId, properties = {}) {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      clientId: `${prefix}-${clientId}`,
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: TIMEOUT_MS,
      properties,
    });
    client.once("connect", (connack) => resolve({ client, connack }));
    client.once("error", reject);
  });
}

function subscribe(client, filter, options) {
  return new Promise((resolve, reject) =>
    client.subscribe(filter, options, (err, granted) =>
      err ? reject(err) : resolve(granted),
    ),
  );
}

function publish(client, topic, payload, options) {
  return new Promise((resolve, reject) =>
    client.publish(topic, payload, options, (err) => (err ? reject(err) : resolve())),
  );
}

/// Collects `n` messages from `clients`, or fails after TIMEOUT_MS.
function collect(clients, n) {
  return new Promise((resolve) => {
    const got = [];
    const timer = setTimeout(
      () => fail(`expected ${n} messages, got ${got.length}`),
      TIMEOUT_MS,
    );
    for (const [index, client] of clients.entries()) {
      client.on("message", (topic, payload, packet) => {
        got.push({ index, topic, payload: payload.toString(), packet });
        if (got.length === n) {
          clearTimeout(timer);
          resolve(got);
        }
      });
    }
  });
}

async function main() {
  const topicBase = `${prefix}/js`;
  // 1 and 2: properties and server topic aliases.
  const { client: sub, connack } = await connect("sub", { topicAliasMaximum: 4 });
  if (connack.reasonCode !== 0) fail(`CONNACK ${connack.reasonCode}`);
  await subscribe(sub, `${topicBase}/req/#`, { qos: 1, properties: { subscriptionIdentifier: 7 } });
  const { client: pub } = await connect("pub");
  const count = 3;
  const arrived = collect([sub], count);
  for (let i = 0; i < count; i++) {
    await publish(pub, `${topicBase}/req/a`, `m${i}`, {
      qos: 1,
      properties: {
        responseTopic: `${topicBase}/resp`,
        correlationData: Buffer.from(`c${i}`),
        contentType: "text/plain",
        userProperties: { first: "1", second: "2" },
        messageExpiryInterval: 60,
      },
    });
  }
  const messages = await arrived;
  let byAliasOnly = 0;
  for (const [i, { topic, payload, packet }] of messages.entries()) {
    const p = packet.properties || {};
    if (topic !== `${topicBase}/req/a`) fail(`topic ${topic}`);
    if (payload !== `m${i}`) fail(`payload ${payload} at ${i}`);
    if (p.responseTopic !== `${topicBase}/resp`) fail(`responseTopic ${p.responseTopic}`);
    if (!p.correlationData || p.correlationData.toString() !== `c${i}`)
      fail(`correlationData ${p.correlationData}`);
    if (p.contentType !== "text/plain") fail(`contentType ${p.contentType}`);
    const up = p.userProperties || {};
    if (up.first !== "1" || up.second !== "2") fail(`userProperties ${JSON.stringify(up)}`);
    if (!(p.messageExpiryInterval > 0 && p.messageExpiryInterval <= 60))
      fail(`messageExpiryInterval ${p.messageExpiryInterval}`);
    const ids = [].concat(p.subscriptionIdentifier);
    if (!ids.includes(7)) fail(`subscriptionIdentifier ${p.subscriptionIdentifier}`);
    if (p.topicAlias !== undefined && packet.topic.length === 0) byAliasOnly += 1;
  }
  if (byAliasOnly === 0) fail("no delivery came by Topic Alias alone");

  // 3: a shared group of two MQTT.js members.
  const { client: memberA } = await connect("member-a");
  const { client: memberB } = await connect("member-b");
  const shared = `$share/g/${topicBase}/shared`;
  await subscribe(memberA, shared, { qos: 1 });
  await subscribe(memberB, shared, { qos: 1 });
  const n = 20;
  const sharedArrived = collect([memberA, memberB], n);
  for (let i = 0; i < n; i++) {
    await publish(pub, `${topicBase}/shared`, `s${i}`, { qos: 1 });
  }
  const sharedMessages = await sharedArrived;
  const seen = new Set(sharedMessages.map((m) => m.payload));
  if (seen.size !== n) fail(`shared: ${seen.size} distinct of ${n}`);
  // Anything more than n would be a duplicate: wait a moment for one.
  await new Promise((resolve) => setTimeout(resolve, 300));
  if (sharedMessages.length !== n) fail(`shared: ${sharedMessages.length} deliveries for ${n}`);

  for (const client of [sub, pub, memberA, memberB]) client.end(true);
  console.log(`OK: ${messages.length} with properties (${byAliasOnly} by alias), ${n} shared`);
  process.exit(0);
}

main().catch((e) => fail(String(e && e.stack ? e.stack : e)));
