// An Express service as it stands before keel: it works, until a deploy, a
// slow dependency or a rejected promise.
// #region before
const express = require('express');
const winston = require('winston');

const INVENTORY_URL = process.env.INVENTORY_URL ?? 'http://inventory.internal';

const logger = winston.createLogger({
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
  transports: [new winston.transports.Console()],
});

const app = express();
app.use(express.json());

app.get('/orders/:id', async (req, res) => {
  logger.info('loading order', { orderId: req.params.id });
  const response = await fetch(`${INVENTORY_URL}/items/${encodeURIComponent(req.params.id)}`);
  if (response.status === 404) return res.status(404).json({ error: 'no such order' });
  res.json({ orderId: req.params.id, item: await response.json() });
});

app.listen(Number(process.env.PORT ?? 3000));
// #endregion before
