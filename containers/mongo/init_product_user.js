// MongoDB's first start in compose (/docker-entrypoint-initdb.d, run by mongosh as the root user): the
// product service's own login, allowed to read and write its database and nothing else. The collections
// and indexes are NOT made here: the service makes them at start (MongoProductStore.ensureIndexes), as
// in `deno task dev` and the tests. The password comes from compose.yaml (DEV ONLY default).
const password = process.env.SHOP_PRODUCT_MONGO_PASSWORD;
if (!password) throw new Error("SHOP_PRODUCT_MONGO_PASSWORD is not set");
db.getSiblingDB("shop_product").createUser({
  user: "shop_product",
  pwd: password,
  roles: [{ role: "readWrite", db: "shop_product" }],
});
